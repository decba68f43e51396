"""The web page in a real browser (tests/browser_fixtures.py's headless Chromium) against the local AWS:
the stack deployed by the real CDK CLI, the page served by the local page gateway, the sample photos
and film uploaded and labelled by the offline model, a user signed in through the sign-in form.

One local AWS and one deployment for the module (make test keeps a module on one worker); the tests
run in file order and the library grows as they go, as a user's does. Each test has its own browser
context (the `page` fixture fails it on any console error or uncaught exception) and signs in.
Screenshots of the main views go to docs/screenshots/ (README shows them).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from playwright.sync_api import Page, expect

from iam_exercise import assert_role_fits_its_calls
from imagelabels.local_endpoint import pages_file, read_page_url
from label_table.object_summary import object_item
from label_table.search import search_library
from local_aws.clients import local_session
from local_aws.demo import SAMPLES, sample_films, sample_images, upload_and_wait
from local_aws.page_user import PageUser, ensure_page_user
from local_aws.server import LocalAws
from local_aws.stack_deployment import STACK_NAME, StackDeployment, deploy_stack

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
FILM = "shots-cat-cup-cameraman-rocket.mp4"
HOSTILE_KEY = "<img src=x onerror=alert(1)>.jpg"
FAILED_KEY = "notes/not-a-photo.jpg"
API_PAGE = 24  # lambda_src/web_api/search_request.py DEFAULT_LIMIT: what the page gets per call
# What the browser did with the URLs the API function presigned, in iam_exercise's recorded-call shape.
PRESIGNED_CALLS: list[dict] = []


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    with LocalAws(state_dir=tmp_path_factory.mktemp("local-aws"), retry_delays_s=(0.2, 0.4)) as local:
        yield local


@pytest.fixture(scope="module")
def deployment(aws, tmp_path_factory) -> StackDeployment:
    return deploy_stack(endpoint=aws.endpoint, stack_name=STACK_NAME, output_dir=tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="module")
def outputs(deployment) -> dict[str, str]:
    return deployment.outputs.values


@pytest.fixture(scope="module")
def clients(aws):
    session = local_session(aws.endpoint)
    return {name: session.client(name, endpoint_url=aws.endpoint_url)
            for name in ("s3", "dynamodb", "lambda", "iam", "cognito-idp")}


@pytest.fixture(scope="module")
def library(outputs, clients) -> dict:
    """The demo's photos and film, labelled (key -> upload result)."""
    return upload_and_wait(clients["s3"], clients["dynamodb"], bucket=outputs["BucketName"],
                           table=outputs["TableName"], paths=sample_images() + sample_films(), timeout_s=180)


@pytest.fixture(scope="module")
def page_url(aws, outputs, library) -> str:
    return read_page_url(pages_file(aws.state_dir), outputs["DistributionId"])


@pytest.fixture(scope="module")
def user(outputs, clients) -> PageUser:
    return ensure_page_user(clients["cognito-idp"], user_pool_id=outputs["UserPoolId"])


@pytest.fixture(autouse=True)
def record_presigned_calls(page, aws):
    """Every request the page makes to the local S3 endpoint is made with a URL the API function
    presigned (the page has no AWS credentials of its own)."""
    def finished(request):
        if not request.url.startswith(aws.endpoint_url + "/"):
            return
        parts = urlsplit(request.url)
        bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
        query = parse_qs(parts.query)
        operation = {"GET": "GetObject", "PUT": "UploadPart" if "uploadId" in query else "PutObject"}.get(request.method)
        if operation and key:
            params = {"Bucket": bucket, "Key": key, **({"VersionId": query["versionId"][0]} if "versionId" in query else {})}
            PRESIGNED_CALLS.append({"function": "browser", "service": "s3", "operation": operation, "params": params})

    page.on("requestfinished", finished)


def put_through_s3(aws, outputs, clients, objects: dict[str, bytes]) -> None:
    """Objects put straight into the image bucket (not through the page), labelled before returning."""
    for key, body in objects.items():
        clients["s3"].put_object(Bucket=outputs["BucketName"], Key=key, Body=body)
    assert aws.wait_idle(120)


def sign_in(page: Page, page_url: str, user: PageUser, *, viewport: dict = DESKTOP) -> None:
    page.set_viewport_size(viewport)
    page.goto(page_url)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Username or email").fill(user.username)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def search_box(page: Page):
    # A search input with a datalist is a combobox to assistive technology.
    return page.locator('input[type="search"]').and_(page.get_by_label(re.compile("Search")))


def search(page: Page, text: str) -> None:
    box = search_box(page)
    box.fill(text)
    box.press("Enter")
    expect(page.get_by_role("status")).to_have_text(re.compile(r"results? for|No results"))


def result_keys(page: Page) -> list[str]:
    return page.locator("#search-results .hit-key").all_inner_texts()


def result(page: Page, key: str):
    return page.locator("#search-results li.hit").filter(has=page.get_by_role("link", name=key, exact=True))


def table_hits(outputs, clients, labels: list[str]) -> list[str]:
    """What `imagelabels search LABEL...` finds, best first: the order the page must show."""
    return [hit.key for hit in search_library(clients["dynamodb"], outputs["TableName"], labels)]


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def test_sign_in_through_the_form_lands_back_on_the_page_signed_in(page, page_url, user):
    page.goto(page_url)
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/oauth2/authorize\?"))
    page.get_by_label("Username or email").fill(user.username)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert page.url.startswith(page_url) and "code=" not in page.url  # the code is not left in the address
    expect(page.get_by_role("heading", name="Search", exact=True)).to_be_visible()
    expect(search_box(page)).to_be_visible()


def test_an_expired_access_token_is_renewed_without_signing_in_again(page, page_url, user):
    sign_in(page, page_url, user)
    # The access token's hour is over (as the page sees it): the next call renews it.
    page.evaluate("""() => {
        const tokens = JSON.parse(sessionStorage.getItem("imagelabels.tokens"));
        sessionStorage.setItem("imagelabels.tokens", JSON.stringify({ ...tokens, expires_at: 0 }));
    }""")
    with page.expect_request(lambda request: request.url.endswith("/oauth2/token")
                             and "grant_type=refresh_token" in (request.post_data or "")) as renewal:
        search(page, "cat")
    assert renewal.value.response().status == 200
    assert "cat-chelsea.png" in result_keys(page)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert "/oauth2/authorize" not in page.url


def test_searching_cat_shows_the_cat_photo_with_its_box_best_first(page, page_url, user, outputs, clients):
    sign_in(page, page_url, user)
    # Suggestions come from the label catalog.
    expect(page.locator("#label-suggestions option[value='Cat']")).to_have_count(1)
    search(page, "cat")

    assert result_keys(page) == table_hits(outputs, clients, ["cat"])
    photo = result(page, "cat-chelsea.png")
    image = photo.get_by_role("img", name="cat-chelsea.png", exact=True)
    expect(image).to_have_attribute("alt", "cat-chelsea.png")
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=image.element_handle())
    boxes = photo.locator(".box[data-label='Cat']")
    expect(boxes).to_have_count(1)
    expect(boxes.first).to_contain_text("Cat")
    drawn, picture = boxes.first.bounding_box(), image.bounding_box()
    assert drawn["width"] > 20 and drawn["height"] > 20
    assert picture["x"] <= drawn["x"] and drawn["x"] + drawn["width"] <= picture["x"] + picture["width"] + 1
    assert picture["y"] <= drawn["y"] and drawn["y"] + drawn["height"] <= picture["y"] + picture["height"] + 1
    screenshot(page, "search-results")


def test_several_labels_at_once_find_what_shows_them_all(page, page_url, user, outputs, clients):
    sign_in(page, page_url, user)
    expect(page.locator("#label-suggestions option[value='Tripod']")).to_have_count(1)
    search(page, "person, tripod")
    assert result_keys(page) == table_hits(outputs, clients, ["person", "tripod"])
    assert "cameraman.png" in result_keys(page) and "astronaut-eileen-collins.jpg" not in result_keys(page)
    cameraman = result(page, "cameraman.png")
    expect(cameraman.get_by_role("img", name="cameraman.png", exact=True)).to_be_visible()
    # Only the searched labels' boxes, and at least the person's.
    assert set(cameraman.locator(".box").evaluate_all("boxes => boxes.map(box => box.dataset.label)")) <= {
        "Person", "Tripod"}
    expect(cameraman.locator(".box[data-label='Person']")).not_to_have_count(0)


def test_the_film_plays_from_where_cat_and_cup_are_on_screen_together(page, page_url, user, outputs, clients):
    sign_in(page, page_url, user)
    expect(page.locator("#label-suggestions option[value='Cup']")).to_have_count(1)
    search(page, "cat cup")  # two labels, typed as a person types them
    expect(page).to_have_url(re.compile(r"label=cat&label=cup"))
    assert result_keys(page) == table_hits(outputs, clients, ["cat", "cup"]) == [FILM]
    film = result(page, FILM)
    video = film.locator("video")
    expect(video).to_have_count(1)
    expect(film.get_by_role("button", name=re.compile(r"^Play \d\d:\d\d-\d\d:\d\d$"))).to_have_text(["00:09-00:12"])
    page.wait_for_function("video => video.readyState >= 1", arg=video.element_handle())
    assert 9 <= video.evaluate("video => video.currentTime") < 12  # starts at the range
    film.get_by_role("button", name="Play 00:09-00:12").click()
    assert 9 <= video.evaluate("video => video.currentTime") < 12
    screenshot(page, "film-result")


def test_two_labels_typed_before_the_catalog_has_come_wait_for_it(page, page_url, user, outputs, clients):
    # The catalog's answer is held back until the search is submitted: the search must wait for it
    # rather than ask for the one label "cat cup", which nothing has.
    held = []
    page.route("**/api/labels", lambda route: held.append(route))
    sign_in(page, page_url, user)
    for _ in range(100):  # the page asks for the catalog as it shows its first view
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    searches = []
    page.on("request", lambda request: searches.append(request.url) if "/api/search" in request.url else None)
    box = search_box(page)
    box.fill("cat cup")
    box.press("Enter")
    page.wait_for_timeout(300)
    assert searches == []  # nothing asked before the catalog came
    held[0].continue_()
    expect(page.get_by_role("status")).to_have_text(re.compile(r"results? for"))
    expect(page).to_have_url(re.compile(r"label=cat&label=cup"))
    assert result_keys(page) == table_hits(outputs, clients, ["cat", "cup"]) == [FILM]


def test_one_item_shows_all_its_labels_with_confidences(page, page_url, user, library):
    sign_in(page, page_url, user)
    search(page, "cat")
    result(page, "cat-chelsea.png").get_by_role("link", name="cat-chelsea.png").click()
    expect(page.get_by_role("heading", name="cat-chelsea.png")).to_be_visible()
    expect(page.get_by_text("Status: LABELLED")).to_be_visible()
    table = page.get_by_role("table", name="Labels, most confident first")
    rows = table.locator("tbody tr")
    labels = library["cat-chelsea.png"].item["Labels"]
    expect(rows).to_have_count(len(labels))
    shown = {row.locator("td").nth(0).inner_text(): row.locator("td").nth(1).inner_text() for row in rows.all()}
    assert shown == {label["Name"]: f"{float(label['Confidence']):.1f}%" for label in labels}
    expect(page.get_by_role("img", name="cat-chelsea.png", exact=True)).to_be_visible()
    screenshot(page, "item")


def test_the_films_item_shows_its_timeline(page, page_url, user):
    sign_in(page, page_url, user)
    page.goto(f"{page_url}#/item?key={FILM}")
    timeline = page.get_by_role("table", name="Labels and when they are on screen")
    cat_row = timeline.locator("tbody tr").filter(has=page.get_by_role("link", name="Cat", exact=True))
    expect(cat_row.get_by_role("button")).to_have_text(["00:00-00:03", "00:09-00:12"])


def test_a_failed_item_shows_why(page, page_url, user, aws, outputs, clients):
    put_through_s3(aws, outputs, clients, {FAILED_KEY: b"just some text\n"})
    sign_in(page, page_url, user)
    page.goto(f"{page_url}#/item?key={FAILED_KEY.replace('/', '%2F')}")
    expect(page.get_by_role("heading", name=FAILED_KEY)).to_be_visible()
    expect(page.get_by_text("Status: FAILED")).to_be_visible()
    item = object_item(clients["dynamodb"], outputs["TableName"], FAILED_KEY)
    expect(page.locator(".item-error")).to_have_text(f"Why it failed: {item['Error']['Message']}")


def test_the_catalog_lists_labels_with_counts_and_links_to_their_search(page, page_url, user, outputs, clients):
    sign_in(page, page_url, user)
    page.get_by_role("link", name="Labels", exact=True).click()
    expect(page.get_by_role("heading", name="Labels in the library")).to_be_visible()
    entries = page.locator("#catalog-list li")
    expect(entries.first).to_be_visible()
    tripod = entries.filter(has=page.get_by_role("link", name="Tripod", exact=True))
    count = len(table_hits(outputs, clients, ["tripod"]))
    expect(tripod).to_have_text(f"Tripod {count} object{'' if count == 1 else 's'}")
    screenshot(page, "catalog")
    tripod.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"#/search\?label=Tripod$"))
    expect(page.get_by_role("status")).to_have_text(re.compile("results? for Tripod"))
    assert result_keys(page) == table_hits(outputs, clients, ["Tripod"])
    expect(search_box(page)).to_have_value("Tripod")


def test_a_hostile_key_is_shown_as_text_and_runs_nothing(page, page_url, user, aws, outputs, clients):
    put_through_s3(aws, outputs, clients, {HOSTILE_KEY: (SAMPLES / "cat-chelsea.png").read_bytes()})
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, page_url, user)
    search(page, "cat")
    hostile = result(page, HOSTILE_KEY)
    expect(hostile.get_by_role("link", name=HOSTILE_KEY, exact=True)).to_have_text(HOSTILE_KEY)
    expect(hostile.get_by_role("img", name=HOSTILE_KEY, exact=True)).to_be_visible()
    hostile.get_by_role("link", name=HOSTILE_KEY, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE_KEY)
    expect(page.get_by_role("img", name=HOSTILE_KEY, exact=True)).to_be_visible()
    page.wait_for_timeout(500)  # time for an onerror handler to fire, were one ever created
    assert page.locator("img[src='x'], [onerror]").count() == 0
    assert dialogs == []


def upload_row(page: Page, name: str):
    return page.locator("#upload-list li").filter(has=page.locator(".upload-name", has_text=name))


def test_an_uploaded_image_shows_its_progress_and_becomes_labelled(page, page_url, user, tmp_path):
    new_photo = tmp_path / "my new mug.jpg"  # not a sample's key
    new_photo.write_bytes((SAMPLES / "coffee cup.jpg").read_bytes())
    sign_in(page, page_url, user)
    page.get_by_role("link", name="Upload", exact=True).click()
    page.get_by_label("Choose files to upload").set_input_files(new_photo)

    row = upload_row(page, "my new mug.jpg")
    expect(row.get_by_role("progressbar", name="Upload of my new mug.jpg")).to_have_attribute("value", "100")
    expect(row.locator(".upload-status")).to_have_text(re.compile(r"^LABELLED: .*Cup \d+\.\d%"), timeout=60_000)
    screenshot(page, "upload")
    row.get_by_role("link", name="Show my new mug.jpg").click()
    expect(page.get_by_role("heading", name="my new mug.jpg")).to_be_visible()
    expect(page.get_by_role("table", name="Labels, most confident first")).to_contain_text("Cup")


def test_an_image_dropped_on_the_page_becomes_labelled(page, page_url, user):
    sign_in(page, page_url, user)
    page.get_by_role("link", name="Upload", exact=True).click()
    # What a drag from the desktop delivers: a drop event whose DataTransfer holds the file.
    photo = base64.b64encode((SAMPLES / "rocket-launch.JPG").read_bytes()).decode()
    dropped = page.evaluate_handle("""(photo) => {
        const bytes = Uint8Array.from(atob(photo), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], "launch day.JPG", { type: "image/jpeg" }));
        return transfer;
    }""", photo)
    page.locator("#drop-zone").dispatch_event("dragover", {"dataTransfer": dropped})
    page.locator("#drop-zone").dispatch_event("drop", {"dataTransfer": dropped})
    status = upload_row(page, "launch day.JPG").locator(".upload-status")
    expect(status).to_have_text(re.compile(r"^LABELLED: .*Rocket"), timeout=60_000)


def test_an_existing_key_uploaded_again_shows_the_new_versions_labels(page, page_url, user, tmp_path):
    # cameraman.png's labels are Person and Tripod; a cat under its name must come back as a cat.
    again = tmp_path / "cameraman.png"
    again.write_bytes((SAMPLES / "cat-chelsea.png").read_bytes())
    sign_in(page, page_url, user)
    page.get_by_role("link", name="Upload", exact=True).click()
    page.get_by_label("Choose files to upload").set_input_files(again)
    status = upload_row(page, "cameraman.png").locator(".upload-status")
    expect(status).to_have_text(re.compile("^LABELLED: "), timeout=60_000)
    expect(status).to_contain_text("Cat")
    expect(status).not_to_contain_text("Person")


def test_keyboard_only_search_and_open_a_result(page, page_url, user):
    sign_in(page, page_url, user)
    page.locator("body").focus()
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.type") == "search":
            break
    expect(search_box(page)).to_be_focused()
    page.keyboard.type("cat")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text(re.compile("results? for cat"))
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "cat-chelsea.png":
            break
    expect(page.get_by_role("link", name="cat-chelsea.png", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="cat-chelsea.png")).to_be_visible()


def test_each_view_says_only_its_own_news(page, page_url, user):
    sign_in(page, page_url, user)
    search(page, "cat")
    page.get_by_role("link", name="Upload", exact=True).click()
    expect(page.get_by_role("heading", name="Upload")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("")


def no_horizontal_scrolling(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_at_phone_width_no_view_scrolls_sideways(page, page_url, user):
    sign_in(page, page_url, user, viewport=PHONE)
    search(page, "cat")
    assert no_horizontal_scrolling(page)
    for view in ("#/item?key=" + FILM, "#/item?key=cat-chelsea.png", "#/catalog", "#/upload"):
        page.goto(page_url + view)
        expect(page.get_by_role("heading", level=1)).not_to_have_text("Item")
        page.wait_for_timeout(300)
        assert no_horizontal_scrolling(page), view
    page.goto(page_url + "#/search?label=cat")
    expect(page.get_by_role("status")).to_have_text(re.compile("results? for cat"))
    screenshot(page, "phone-search")


def test_more_results_than_a_page_load_each_once(page, page_url, user, aws, outputs, clients):
    copies = {f"paging/cat-{number:02}.png": (SAMPLES / "cat-chelsea.png").read_bytes() for number in range(API_PAGE)}
    put_through_s3(aws, outputs, clients, copies)
    expected = table_hits(outputs, clients, ["cat"])
    assert len(expected) > API_PAGE
    sign_in(page, page_url, user)
    search(page, "cat")
    more = page.get_by_role("button", name="More results")
    expect(more).to_be_visible()
    assert len(result_keys(page)) == API_PAGE
    more.click()
    expect(page.get_by_role("status")).to_have_text(f"{len(expected)} results for cat")
    expect(more).to_be_hidden()
    assert result_keys(page) == expected  # every hit once, best first


# Granted to the API function but used by no call of this run, and why they stay.
GRANTED_FOR_LAMBDA_OR_UNEXERCISED = {
    "logs:CreateLogStream": "Lambda writes the function's log stream with the function's role",
    "logs:PutLogEvents": "Lambda writes the function's log events with the function's role",
    "s3:GetObject": "presigned GETs of an item without a version id (answers.presigned_get); every item here has one",
}


def test_the_web_apis_role_allows_every_call_it_made_and_nothing_unused(page, page_url, user, aws, outputs, clients):
    # The multipart routes a film of several GB takes, through the page's own API client.
    sign_in(page, page_url, user)
    answer = page.evaluate("""async () => {
        const { apiPost } = await import("./api.js");
        const plan = await apiPost("/uploads", { name: "films/big.mp4", size: 300 * 1024 * 1024, type: "video/mp4" });
        await apiPost("/uploads/abort", { key: plan.key, upload_id: plan.upload_id });
        return plan;
    }""")
    assert len(answer["parts"]) == 5
    assert PRESIGNED_CALLS, "the page fetched no presigned URL"
    assert_role_fits_its_calls(aws=aws, iam=clients["iam"], lambda_=clients["lambda"],
                               function_name=outputs["WebApiFunctionName"],
                               used_by_lambda=GRANTED_FOR_LAMBDA_OR_UNEXERCISED,
                               must_call={"Query", "BatchGetItem", "GetItem", "CreateMultipartUpload",
                                          "AbortMultipartUpload", "GetObject"},
                               resource_star_for=set(), presigned_calls=PRESIGNED_CALLS)
