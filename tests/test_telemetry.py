from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot import telemetry
from bot.adapters.graph import GraphClient, GraphDirectory
from tests.graph_mock import StubGraphCredential, graph_mock  # noqa: F401  (fixture)


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
