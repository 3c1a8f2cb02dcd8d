"""Pure view code: figures, texts, exports and the prior settings' translation, testable without a browser
or a server."""
