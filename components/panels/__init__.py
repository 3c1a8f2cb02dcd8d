"""The page's panels: each module holds one panel's layout and its callbacks (and nothing a panel does not show)."""
