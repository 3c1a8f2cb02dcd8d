"""A page of the app driven over plain HTTP, as Dash's renderer drives it: one cookie jar, one page state.

:class:`HttpPage` loads ``/`` (the session cookie) and ``/_dash-layout`` (every
component's properties), then calls callbacks by their function's name: it
builds the ``/_dash-update-component`` body the renderer would send (``output``,
``outputs``, ``inputs``, ``state``, ``changedPropIds``) from the callback's
dependencies (``/_dash-dependencies``) and the page state, and applies the
answer to the page state. Pattern ids with ``ALL`` are expanded over the
components on the page; ``MATCH`` is not supported.
"""

from __future__ import annotations

import json

import requests
from dash import _callback


def callback_outputs(dash_app) -> dict[str, str]:
    """Each callback's function name → the output key Dash knows it by (from ``app.callback_map``)."""
    entries = {**_callback.GLOBAL_CALLBACK_MAP, **dash_app.callback_map}
    return {entry["callback"].__name__: output for output, entry in entries.items()
            if "callback" in entry}  # clientside callbacks run in the browser: no server function to call


def stringify_id(component_id) -> str:
    """A component id as Dash writes it in requests and answers (dict ids: sorted keys, compact JSON)."""
    if isinstance(component_id, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{json.dumps(component_id[k])}" for k in sorted(component_id)) + "}"
    return component_id


def _split_output_key(key: str) -> list[tuple[str, str]]:
    """``..a.b...c.d..`` (several outputs) or ``a.b`` (one) as (id, property) pairs."""
    parts = key[2:-2].split("...") if key.startswith("..") else [key]
    return [tuple(part.rsplit(".", 1)) for part in parts]


def text_of(value) -> str:
    """The text a component tree shows (children flattened), as a browser would read it."""
    if value is None:
        return ""
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, list):
        return "".join(text_of(v) for v in value)
    if isinstance(value, dict):
        return text_of(value.get("props", {}).get("children"))
    return ""


class CallbackError(RuntimeError):
    """The server answered a callback with an HTTP error."""


class HttpPage:
    """One browser tab over HTTP: its own ``requests.Session`` (cookies) and the properties of its components."""

    def __init__(self, base_url: str, outputs: dict[str, str], timeout: float = 60.0):
        self.base_url, self.outputs, self.timeout = base_url.rstrip("/"), outputs, timeout
        self.http = requests.Session()
        self.http.get(self.base_url + "/", timeout=timeout).raise_for_status()
        self.props: dict[str, dict] = {}  # stringified id → its properties
        self.ids: dict[str, object] = {}  # stringified id → the id itself (dict ids for pattern matching)
        self._collect(self._json("/_dash-layout"))
        self.dependencies = {d["output"]: d for d in self._json("/_dash-dependencies")}
        self.side_updates: list[dict] = []  # what callbacks set elsewhere (the error handler's app-message)

    def _json(self, path: str):
        response = self.http.get(self.base_url + path, timeout=self.timeout)
        response.raise_for_status()
        return response.json()

    def _collect(self, node) -> None:
        if isinstance(node, list):
            for item in node:
                self._collect(item)
        elif isinstance(node, dict) and "props" in node and "type" in node:
            props = node["props"]
            if "id" in props:
                key = stringify_id(props["id"])
                self.props[key], self.ids[key] = props, props["id"]
            for value in props.values():
                self._collect(value)

    # -- page state ----------------------------------------------------------------------------

    def get(self, component_id, prop: str):
        return self.props.get(stringify_id(component_id), {}).get(prop)

    def text(self, component_id) -> str:
        return text_of(self.get(component_id, "children"))

    def set(self, component_id, **props) -> None:
        """Change properties as the user would (typing, clicking), without firing callbacks."""
        self.props.setdefault(stringify_id(component_id), {}).update(props)

    def _matching(self, pattern: dict) -> list:
        """Ids on the page that ``pattern`` (with ``["ALL"]`` wildcards) matches, in page order."""
        found = []
        for component_id in self.ids.values():
            if not isinstance(component_id, dict) or set(component_id) != set(pattern):
                continue
            if all(v == ["ALL"] or component_id[k] == v for k, v in pattern.items()):
                found.append(component_id)
        return found

    def _specs(self, id_text: str, prop: str, with_value: bool):
        """One dependency as the renderer sends it: a dict, or a list of dicts for an ``ALL`` pattern."""
        def spec(component_id):
            out = {"id": component_id, "property": prop}
            if with_value:
                out["value"] = self.get(component_id, prop.split("@")[0])
            return out

        if not id_text.startswith("{"):
            return spec(id_text)
        pattern = json.loads(id_text)
        if any(v in (["MATCH"], ["ALLSMALLER"]) for v in pattern.values()):
            raise NotImplementedError(f"MATCH/ALLSMALLER patterns are not supported: {id_text}")
        return [spec(component_id) for component_id in self._matching(pattern)]

    # -- callbacks -----------------------------------------------------------------------------

    def call(self, name: str, *changed: str) -> dict:
        """Fire callback ``name`` as if ``changed`` (``"id.prop"``) had just changed; what it updated.

        Returns ``{stringified id: {prop: value}}`` (empty when the callback
        prevented the update) after applying it to the page state.
        """
        key = self.outputs[name]
        dependency = self.dependencies[key]
        outputs = [self._specs(i, p, False) for i, p in _split_output_key(key)]
        body = {
            "output": key,
            "outputs": outputs if key.startswith("..") else outputs[0],
            "inputs": [self._specs(d["id"], d["property"], True) for d in dependency["inputs"]],
            "state": [self._specs(d["id"], d["property"], True) for d in dependency["state"]],
            "changedPropIds": list(changed),
        }
        response = self.http.post(self.base_url + "/_dash-update-component", json=body, timeout=self.timeout)
        if response.status_code == 204:
            return {}
        if response.status_code != 200:
            raise CallbackError(f"{name}: HTTP {response.status_code}: {response.text[:500]}")
        answer = response.json()
        if answer.get("sideUpdate"):
            self.side_updates.append(answer["sideUpdate"])
        updated = answer.get("response", {})
        for id_text, props in updated.items():
            self.props.setdefault(id_text, {}).update(props)
        return updated
