"""/api/v1/openapi.json against the app itself: every route documented, request schemas generated
from the models the routes validate with (so the document and the validation cannot drift)."""
import pytest
from openapi_spec_validator import validate

from web.api.document import METHODS, operations

pytestmark = pytest.mark.db


@pytest.fixture
def doc(app):
    return app.test_client().get("/api/v1/openapi.json").json


def test_the_document_is_valid_openapi_31(doc):
    validate(doc)
    assert doc["openapi"] == "3.1.0"


def test_every_api_route_of_the_url_map_is_documented(app, doc):
    missing = sorted({(method.upper(), rule.rule) for rule, method, path, _ in operations(doc, app)
                      if path is None or method not in doc["paths"][path]})
    assert missing == [], "document these routes in their feature's openapi part"


def test_every_documented_operation_exists(app, doc):
    served = {(path, method) for _, method, path, _ in operations(doc, app) if path}
    documented = {(path, m) for path, item in doc["paths"].items() for m in item if m in METHODS}
    assert documented - served == set()


def test_json_bodies_and_query_strings_come_from_the_routes_models(app, doc):
    """A JSON body written by hand in the document would be a second description of what the
    route accepts: every one must be a component generated from the route's own model."""
    for rule, method, path, view in operations(doc, app):
        if path is None:
            continue   # (the test above)
        op = doc["paths"][path][method]
        schemas = getattr(view, "api_schemas", None) or {}
        json_body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if json_body is not None:
            assert schemas.get("body") is not None, f"{method.upper()} {rule.rule}: body documented, not validated"
            assert json_body["schema"] == {"$ref": f"#/components/schemas/{schemas['body'].__name__}"}
        if schemas.get("query") is not None:
            names = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
            fields = schemas["query"].model_fields
            assert names == {f.alias or name for name, f in fields.items()}, rule.rule


def test_put_aliases_and_content_types_are_documented(doc):
    paths = doc["paths"]
    for path in ("/trunks/{trunk_id}", "/numbers/{number_id}"):
        assert paths[path]["put"]["requestBody"] == paths[path]["patch"]["requestBody"]
        assert "alias of `PATCH`" in paths[path]["put"]["description"]
    upload = paths["/files"]["post"]["requestBody"]["content"]
    assert list(upload) == ["multipart/form-data"]
    recording = paths["/communications/{id}/recording"]["get"]
    assert "audio/wav" in recording["responses"]["206"]["content"]
    assert any(p["name"] == "Range" and p["in"] == "header" for p in recording["parameters"])


def test_validation_errors_are_documented_with_their_fields(doc):
    error = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
    assert {"code", "message", "fields", "field"} <= set(error)
    assert "422" in doc["paths"]["/users"]["post"]["responses"]
