"""A dashboards visitor without a browser: one websocket per session, speaking Streamlit's protocol.

A browser tab of the dashboards is a websocket to the server's /_stcore/stream over which the tab
sends BackMsgs (run the script: this page, these widget values) and the server answers with
ForwardMsgs (the page's elements, then "script finished"). This client does what the tab does
for a manager: opens the app, fills in the login form and submits it, then switches pages through
the navigation, and it keeps everything the server sent: headings, metrics, alerts and every
string shown (text, table cells and chart data, decoded from Arrow). A page counts as rendered
when its script run has finished and every element has arrived, which is when the browser can
draw it. Hundreds of such sessions fit in one process, so the server is measured, not a browser
competing with it for the same two cores (tests/e2e drives a real chromium for what only a
browser shows).

Used by benchmarks/load.py and tests/e2e/test_load.py.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import pyarrow as pa
import websockets
from google.protobuf.descriptor import FieldDescriptor
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.TextInput_pb2 import TextInput

FINISHED = ForwardMsg.FINISHED_SUCCESSFULLY


class VisitFailed(RuntimeError):
    """The server did not render what the visitor asked for."""


@dataclass
class Page:
    """One script run as the visitor received it."""
    title: str                      # the first h1 heading
    seconds: float                  # request sent to the last element received
    headings: list[str] = field(default_factory=list)
    metrics: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)     # error alerts and exceptions
    strings: set[str] = field(default_factory=set)      # every string shown, table and chart cells included
    widgets: dict[str, str] = field(default_factory=dict)   # label -> widget id
    login_form: dict[str, str] = field(default_factory=dict)   # "email", "password", "submit" -> widget id


class Session:
    """One visitor: `async with Session(url) as s: await s.open(); await s.login(...); await s.goto("Stock")`."""

    def __init__(self, url: str, timeout: float = 120.0):
        self.url = url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        self.timeout = timeout
        self.pages: dict[str, str] = {}        # page name -> script hash, from the navigation
        self.ws = None
        self.last: Page | None = None

    async def __aenter__(self) -> "Session":
        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None,
                                           open_timeout=self.timeout, ping_interval=None)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    async def open(self) -> Page:
        return await self._run(BackMsg())

    async def login(self, email: str, password: str) -> Page:
        """Fill in the login form and submit it; the page the app then shows (its first page). The
        form's fields are found by kind (a text field, a password field, the form's submit
        button), not by label: the labels are in the visitor's language."""
        form = self.last.login_form if self.last else {}
        if not {"email", "password", "submit"} <= set(form):
            raise VisitFailed("no login form on the page")
        msg = BackMsg()
        for field_name, value in (("email", email), ("password", password)):
            w = msg.rerun_script.widget_states.widgets.add()
            w.id, w.string_value = form[field_name], value
        w = msg.rerun_script.widget_states.widgets.add()
        w.id, w.trigger_value = form["submit"], True
        return await self._run(msg)

    async def goto(self, page: str) -> Page:
        """Open a page from the navigation, as a click on its link does."""
        if page not in self.pages:
            raise VisitFailed(f"the navigation offers no page {page!r}")
        msg = BackMsg()
        msg.rerun_script.page_script_hash = self.pages[page]
        return await self._run(msg)

    async def _run(self, msg: BackMsg) -> Page:
        msg.rerun_script.query_string = msg.rerun_script.query_string or ""
        started = time.monotonic()
        await self.ws.send(msg.SerializeToString())
        page = Page(title="", seconds=0.0)
        deadline = started + self.timeout
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), timeout=max(0.1, deadline - time.monotonic()))
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "navigation":
                self.pages = {p.page_name: p.page_script_hash for p in fwd.navigation.app_pages}
            elif kind == "session_status_changed" or kind == "new_session":
                pass
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                _element(fwd.delta.new_element, page)
            elif kind == "script_finished":
                if fwd.script_finished == FINISHED:
                    page.seconds = time.monotonic() - started
                    page.title = page.headings[0] if page.headings else ""
                    self.last = page
                    return page
                page = Page(title="", seconds=0.0)     # a rerun follows (st.rerun after login): its page counts


def _element(element, page: Page) -> None:
    kind = element.WhichOneof("type")
    body = getattr(element, kind)
    if kind == "heading":
        page.headings.append(body.body)
    elif kind == "metric":
        page.metrics[body.label] = body.body
    elif kind == "alert" and body.format == Alert.ERROR:
        page.errors.append(body.body)
    elif kind == "exception":
        page.errors.append(f"{body.type}: {body.message}")
    if hasattr(body, "id") and hasattr(body, "label") and isinstance(getattr(body, "id"), str):
        page.widgets[body.label] = body.id
    if kind == "text_input" and body.form_id:
        page.login_form["password" if body.type == TextInput.PASSWORD else "email"] = body.id
    elif kind == "button" and body.is_form_submitter:
        page.login_form["submit"] = body.id
    _strings(body, page.strings)


def _strings(msg, out: set[str]) -> None:
    """Every string of a protobuf message, and the cells of the Arrow tables it carries."""
    for fd, value in msg.ListFields():
        values = value if fd.label == FieldDescriptor.LABEL_REPEATED else [value]
        for v in values:
            if fd.type == FieldDescriptor.TYPE_MESSAGE:
                _strings(v, out)
            elif fd.type == FieldDescriptor.TYPE_STRING:
                out.add(v)
            elif fd.type == FieldDescriptor.TYPE_BYTES and v[:4] == b"\xff\xff\xff\xff":
                out.update(_arrow_strings(v))


def _arrow_strings(data: bytes) -> set[str]:
    try:
        table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    except (pa.ArrowInvalid, OSError):
        return set()
    found = set(table.column_names)
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            found.update(v for v in column.to_pylist() if v is not None)
        elif pa.types.is_dictionary(column.type):
            found.update(str(v) for v in column.to_pylist() if v is not None)
    return found
