"""Error responses: people get the site's error page, API clients get JSON."""

from __future__ import annotations

from tests.web.conftest import WebTrial


def test_unknown_page_is_the_sites_error_page(web: WebTrial) -> None:
    r = web.page("enroller").get("/no/such/page")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Not found." in r.text
    assert 'href="/static/' in r.text  # the site's layout, not a bare message
    assert "Content-Security-Policy" in r.headers


def test_unknown_page_signed_out_is_also_html(web: WebTrial) -> None:
    r = web.anon().get("/nowhere")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")


def test_forbidden_page_is_html_and_api_is_json(web: WebTrial) -> None:
    page = web.page("assessor").get("/screen")
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert "Your role may not do this." in page.text
    api = web.api("assessor").post("/api/v1/participants/D007/randomise")
    assert api.status_code in (403, 404)
    assert api.headers["content-type"].startswith("application/json")
    assert "detail" in api.json()


def test_unknown_api_path_is_json(web: WebTrial) -> None:
    r = web.api("enroller").get("/api/v1/no-such-thing")
    assert r.status_code == 404
    assert r.json() == {"detail": "Not Found"}


def test_wrong_method_on_a_page_keeps_its_status(web: WebTrial) -> None:
    r = web.page("enroller").request("DELETE", "/participants")
    assert r.status_code == 405
    assert r.headers["content-type"].startswith("text/html")
    assert "allow" in {k.lower() for k in r.headers}
