from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot.runtime import telemetry
from bot.adapters.graph import GraphClient, GraphDirectory
from tests.support.graph_mock import StubGraphCredential, graph_mock  # noqa: F401  (fixture)


def test_without_a_connection_string_nothing_is_configured():
    assert telemetry.configure(None) is False and telemetry.configure("") is False
    with telemetry.span("anything") as current:
        assert current is None


async def test_graph_calls_are_traced_without_personal_data(graph_mock):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.use_tracer(provider.get_tracer("test"))
    try:
        graph_mock.add_user("alice@contoso.example", object_id="00000000-0000-4000-8000-0000000000c1",
                            display_name="Alice User", mobile="+44 20 7946 0958", manager=None)
        client = GraphClient(None, StubGraphCredential(), base_url=graph_mock.url)
        person = await GraphDirectory(client).find_by_upn("alice@contoso.example")
        await client.close()
    finally:
        telemetry.use_tracer(None)
    assert person.phone_of_record == "+44 20 7946 0958"
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["graph.user", "graph.manager"]
    assert [s.attributes["http.status_code"] for s in spans] == [200, 404]
    everything = " ".join(str(dict(s.attributes)) + s.name for s in spans)
    assert "7946" not in everything and "alice" not in everything


async def test_an_unhandled_error_reaches_log_handlers_as_its_type_only(harness):
    """Application Insights' handler exports a record's message and, given exc_info, the exception's text and
    traceback: no record from the bot may carry either."""
    import logging

    from tests.support.teams import card_action

    class Capture(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.records: list[logging.LogRecord] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.records.append(record)

    async def failing_read(object_id):
        raise ValueError("seed JBSWY3DPEHPK3PXP ticket INC-7 phone +44 20 7946 0958")

    capture = Capture()
    logging.getLogger("otpbot").addHandler(capture)
    try:
        sent = await harness.say("code alice@contoso.example")
        data = sent[0]["attachments"][0]["content"]["actions"][0]["data"]
        await harness.click("verify", {**data, "ticket": "INC-7", "calledBack": "true"})
        harness.secrets.get_seed = failing_read
        body, _ = await harness.click("reveal", data)
    finally:
        logging.getLogger("otpbot").removeHandler(capture)
    assert body["value"]["body"][0]["text"].startswith("Something went wrong (ref ")
    errors = [r for r in capture.records if r.levelno >= logging.ERROR]
    assert [r.getMessage().split(" ref=")[0] for r in errors] == ["unhandled error"]
    assert errors[0].getMessage().endswith(" type=ValueError")
    assert [r for r in capture.records if r.exc_info] == []
    assert not any(word in r.getMessage() for r in capture.records for word in ("JBSWY3", "INC-7", "7946"))


def test_a_span_records_an_exception_by_its_type_only():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.use_tracer(provider.get_tracer("test"))
    try:
        try:
            with telemetry.span("graph.user", method="GET"):
                raise ConnectionError("phone +44 20 7946 0958 ticket INC-7")
        except ConnectionError:
            pass
    finally:
        telemetry.use_tracer(None)
    (span,) = exporter.get_finished_spans()
    assert dict(span.attributes) == {"method": "GET", "error.type": "ConnectionError"}
    assert (span.status.status_code.name, span.status.description, span.events) == ("ERROR", None, ())
