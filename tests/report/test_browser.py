"""The report in a real browser: headless Chromium (Debian's chromium and chromium-driver, driven by selenium)
loads every page of a report built from tiny runs of training-dynamics and addition-heads, at 1280 px.

WHAT: no console errors, every image loads, nothing scrolls sideways, every claim anchor lands on an element
with that id, the ledger's filter changes the rows shown, and the attention viewer redraws when the input
changes and computes what the Python model computes: every attention pattern within 1e-5, the same greedy
answer, and the same probabilities with a head ablated.
WHY: the report is read in a browser; the HTML-level tests (test_html.py) cannot run its JavaScript.

.ci/run installs chromium and chromium-driver when they are missing and sets BLOCKLAB_REQUIRE_BROWSER=1, so
there a missing browser fails instead of skipping. BLOCKLAB_BROWSER_SITE=DIR runs the same checks on a report
already built (the tour's: blocklab report runs/tour), and BLOCKLAB_SCREENSHOTS=DIR writes screenshots of the
index, the ledger, a study article and the viewer there. On a failure, screenshots go to the test's tmp folder.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest
import torch

from blocklab.errors import BlocklabError
from blocklab.lab.report import build_report
from blocklab.lab.runner import run_study
from blocklab.nn import GPT, GPTConfig, Seq2SeqConfig, Seq2SeqTransformer
from blocklab.nn.models.saving import load_any
from blocklab.report.model_export import export_model
from blocklab.report.viewer import Viewer, read_input

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
WIDTH = 1280
TOLERANCE = 1e-5
CLAIM_LINK = re.compile(r"#(C\d{3}-\d{2})$")
TINY_DYNAMICS = {"parts": ["headline"], "splits": ["seed"], "headline_n_train": 200, "headline_epochs": 1,
                 "n_val": 40, "n_test": 40}
TINY_ADDITION = {"train.steps": 30, "train.warmup_steps": 2, "train.eval_every": 30, "train.batch_size": 32,
                 "n_train": 512, "n_val": 32, "n_test": 64, "d_model": 16, "n_heads": 2, "layers": 1,
                 "beam_sizes": [1], "exhaustive": False}


def _browser_missing() -> str:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if CHROMIUM is None or DRIVER is None:
        return "chromium and chromedriver are not installed (apt-get install -y chromium chromium-driver; .ci/run does)"
    return ""


if _browser_missing() and not os.environ.get("BLOCKLAB_REQUIRE_BROWSER"):
    pytest.skip(_browser_missing(), allow_module_level=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The report folder: BLOCKLAB_BROWSER_SITE's, or one built from tiny runs of the two studies that save models."""
    given = os.environ.get("BLOCKLAB_BROWSER_SITE")
    if given:
        return Path(given)
    root = tmp_path_factory.mktemp("browser") / "runs"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BLOCKLAB_NO_PROGRESS", "1")
        run_study("training-dynamics", seeds=1, quick=True, out=root / "training-dynamics", overrides=TINY_DYNAMICS)
        run_study("addition-heads", seeds=1, quick=True, out=root / "addition-heads", overrides=TINY_ADDITION)
    return build_report(root).parent


@pytest.fixture(scope="module")
def browser():
    missing = _browser_missing()
    if missing:
        pytest.fail(f"BLOCKLAB_REQUIRE_BROWSER is set but {missing}")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={WIDTH},900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def pages(site: Path) -> list[Path]:
    return sorted(site.glob("*.html"))


def visit(browser, page: Path) -> list[dict]:
    """Open `page` and wait for it to finish loading; returns the console messages it logged."""
    browser.get(page.resolve().as_uri())
    browser.execute_script("return document.readyState")  # get() returns once the load event has fired
    return browser.get_log("browser")


@contextlib.contextmanager
def screenshots_on_failure(browser, folder: Path, name: str):
    """On an exception, a screenshot of the page the browser shows goes to `folder` before it propagates."""
    try:
        yield
    except BaseException:
        folder.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(folder / f"{name}.png"))
        raise


def test_every_page_loads_without_errors_broken_images_or_sideways_scrolling(site, browser, tmp_path):
    for page in pages(site):
        with screenshots_on_failure(browser, tmp_path, page.stem):
            logs = visit(browser, page)
            severe = [entry["message"] for entry in logs if entry["level"] == "SEVERE"]
            assert not severe, f"{page.name}: console errors {severe}"
            broken = browser.execute_script(
                "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
                ".map(i => i.getAttribute('src'))")
            assert not broken, f"{page.name}: images that did not load: {broken}"
            scroll, client = browser.execute_script(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert scroll <= client, f"{page.name} is {scroll} px wide in a {client} px window"


def test_every_claim_anchor_lands_on_an_element_with_that_id(site, browser, tmp_path):
    links: dict[str, set[str]] = {}  # target page -> claim IDs linked to it
    for page in pages(site):
        visit(browser, page)
        for href in browser.execute_script("return Array.from(document.links).map(a => a.getAttribute('href'))"):
            match = CLAIM_LINK.search(href)
            if match:
                links.setdefault(href.split("#")[0] or page.name, set()).add(match.group(1))
    assert "ledger.html" in links and len(links) > 1, f"too few claim links to check: {links}"
    for target, ids in links.items():
        with screenshots_on_failure(browser, tmp_path, f"anchors-{target}"):
            visit(browser, site / target)
            found = set(browser.execute_script("return Array.from(document.querySelectorAll('[id]')).map(e => e.id)"))
            assert ids <= found, f"{target} has no element with id {sorted(ids - found)}"


def test_the_ledger_filter_changes_which_rows_are_shown(site, browser, tmp_path):
    """Each verdict in the menu shows exactly the rows with that verdict (or that a provisional one would be)."""
    rows = ("return Array.from(document.querySelectorAll('table.ledger > tbody > tr'), "
            "r => [r.id, r.hidden, r.dataset.verdict, r.dataset.wouldBe || ''])")
    with screenshots_on_failure(browser, tmp_path, "ledger"):
        visit(browser, site / "ledger.html")
        everything = browser.execute_script(rows)
        assert everything and not any(hidden for _, hidden, _, _ in everything)
        choices = browser.execute_script("return Array.from(document.getElementById('verdict').options)"
                                         ".map(o => o.value).filter(v => v)")
        counts = []
        for verdict in choices:
            browser.execute_script("const s = document.getElementById('verdict'); s.value = arguments[0];"
                                   "s.dispatchEvent(new Event('change'))", verdict)
            shown = [id_ for id_, hidden, *_ in browser.execute_script(rows) if not hidden]
            assert shown == [id_ for id_, _, v, would in everything if verdict in (v, would)], verdict
            assert browser.find_element("id", "shown").text == f"showing {len(shown)} of {len(everything)} claims"
            counts.append(len(shown))
        assert any(0 < n < len(everything) for n in counts), counts


def viewer_pages(site: Path, browser) -> list[tuple[Path, str]]:
    """(page, viewer section id) of every study page with a running viewer."""
    found = []
    for page in pages(site):
        if (site / "viewer" / f"{page.stem}.js").is_file():
            visit(browser, page)
            found += [(page, id_) for id_ in browser.execute_script("return Object.keys(window.blocklabViewers)")]
    return found


def python_pass(model, inputs: dict, ablate: tuple[str, int] | None = None) -> tuple[torch.Tensor, dict]:
    """The last position's probabilities and every attention pattern (H, T, S) of the Python model on the page's
    inputs, with the head `ablate` (module path, head) zeroed by head_mask as the page's box does."""
    masks = [m for m in model.modules() if hasattr(m, "head_mask")]
    if ablate is not None:
        model.get_submodule(ablate[0]).head_mask[ablate[1]] = 0.0
    try:
        with torch.no_grad():
            logits, cache = run_python(model, inputs)
    finally:
        for m in masks:
            m.head_mask.fill_(1.0)
    return logits[0, -1].double().softmax(-1), {k.removesuffix(".hook_pattern"): v[0] for k, v in cache.items()}


def run_python(model, inputs: dict) -> tuple[torch.Tensor, dict]:
    """Logits and every hook_pattern of a pass over the page's inputs; an encoder-decoder's decoder input is not
    padding, as in greedy decoding."""
    patterns = lambda name: name.endswith("hook_pattern")  # noqa: E731
    if "tokens" in inputs:
        return model.run_with_cache(torch.tensor([inputs["tokens"]]), names=patterns)
    dec = torch.tensor([inputs["dec"]])
    return model.run_with_cache(torch.tensor([inputs["src"]]), dec, names=patterns,
                                tgt_key_padding_mask=torch.zeros_like(dec, dtype=torch.bool))


def python_greedy(model, inputs: dict, viewer: dict) -> list[int]:
    """The Python model's greedy answer to the page's input."""
    n = viewer["answer_tokens"]
    with torch.no_grad():
        if "tokens" in inputs:
            prompt = torch.tensor([inputs["tokens"][: len(inputs["tokens"]) - n + 1]])
            return model.generate(prompt, n, temperature=0.0)[0, prompt.shape[1]:].tolist()
        return model.greedy_decode(torch.tensor([inputs["src"]]), viewer["vocab"].index(viewer["bos"]), n)[0].tolist()


def check_against_python(browser, section: str, model, viewer: dict, ablate=None) -> dict:
    last = browser.execute_script("return window.blocklabViewers[arguments[0]].last", section)
    probabilities, patterns = python_pass(model, last["inputs"], ablate)
    assert set(last["patterns"]) == set(patterns)
    for name, pattern in patterns.items():
        page = torch.tensor(last["patterns"][name], dtype=torch.float64)
        assert page.shape == pattern.shape, name
        assert torch.allclose(page, pattern.double(), atol=TOLERANCE, rtol=0), \
            f"{name}: the page's pattern is off by {float((page - pattern).abs().max()):.2e}"
    page_p = torch.tensor(last["answer"][-1]["probabilities"], dtype=torch.float64)
    assert torch.allclose(page_p, probabilities, atol=TOLERANCE, rtol=0), float((page_p - probabilities).abs().max())
    margins = [sorted(a["probabilities"])[-1] - sorted(a["probabilities"])[-2] for a in last["answer"]]
    if ablate is None and min(margins) > 1e-4:  # a near-tie may fall either way in float32
        assert [a["id"] for a in last["answer"]] == python_greedy(model, last["inputs"], viewer)
    return last


def test_the_viewer_redraws_for_each_input_and_agrees_with_the_python_model(site, browser, tmp_path):
    found = viewer_pages(site, browser)
    assert found, "no page has an attention viewer"
    kinds = set()
    for page, section in found:
        with screenshots_on_failure(browser, tmp_path, f"viewer-{page.stem}"):
            visit(browser, page)
            exported = browser.execute_script("return window.BLOCKLAB_MODELS[arguments[0]]", page.stem)
            viewer, model = exported["viewer"], load_any(exported["folder"])
            spec = Viewer(viewer["cell"], tuple(viewer["vocab"]), tuple(viewer["examples"]), viewer["answer_tokens"],
                          tuple(viewer["suffix"]), viewer["bos"], viewer["digits"], viewer["length"])
            kinds.add(exported["model"]["kind"])
            draws = int(browser.execute_script("return window.blocklabViewers[arguments[0]].draws", section))
            pixels = "return Array.from(document.querySelectorAll('#' + arguments[0] + ' canvas'), c => c.toDataURL())"
            drawn = []
            for i, example in enumerate(viewer["examples"][:3]):
                if i:
                    browser.execute_script("const s = document.querySelector('#' + arguments[0] + ' select');"
                                           "s.value = arguments[1]; s.dispatchEvent(new Event('change'))",
                                           section, example)
                last = check_against_python(browser, section, model, viewer)
                assert last["text"] == example
                fed = last["inputs"]["tokens"][: len(read_input(example, spec))] if "tokens" in last["inputs"] \
                    else last["inputs"]["src"]
                assert fed == read_input(example, spec), f"the page reads {example!r} as {fed}"
                now = int(browser.execute_script("return window.blocklabViewers[arguments[0]].draws", section))
                assert now == draws + i, f"{page.name}: {now} drawings after {i} changes of the input"
                drawn.append(browser.execute_script(pixels, section))
            assert drawn[0] != drawn[1] != drawn[2], "the heatmaps did not change with the input"
            tick = browser.find_element("css selector", f"#{section} input[type=checkbox]")
            tick.click()
            name, head = tick.get_attribute("data-head").rsplit(":", 1)
            ablated = check_against_python(browser, section, model, viewer, ablate=(name, int(head)))
            assert ablated["answer"][-1]["probabilities"] != last["answer"][-1]["probabilities"]
            tick.click()
            typed = browser.find_element("css selector", f"#{section} input[type=text]")
            typed.clear()
            typed.send_keys("12?")
            with pytest.raises(BlocklabError) as refused:
                read_input("12?", spec)
            assert browser.find_element("css selector", f"#{section} .viewer-message").text == str(refused.value)
            assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    if not os.environ.get("BLOCKLAB_BROWSER_SITE"):
        assert kinds == {"GPT", "Seq2SeqTransformer"}, kinds


def test_the_viewer_refuses_a_model_it_cannot_run_in_words(site, browser):
    page, _ = viewer_pages(site, browser)[0]
    visit(browser, page)
    message = browser.execute_script(
        "return BlocklabTransformer.unsupported({kind: 'GPT', config: {pos_encoding: 'rope', norm: 'layer', "
        "mixer: 'attention'}})")
    assert "sinusoidal, learned, none" in message and "'rope'" in message


def test_screenshots_for_the_closing_note(site, browser):
    """With BLOCKLAB_SCREENSHOTS=DIR: the index, the ledger, the first study article with a figure in a claim's
    card (else in its gallery), at its top and at that figure, and each viewer, as a reader sees them at 1280 px."""
    folder = os.environ.get("BLOCKLAB_SCREENSHOTS")
    if not folder:
        pytest.skip("BLOCKLAB_SCREENSHOTS is not set")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("index", "ledger"):
        visit(browser, site / f"{name}.html")
        browser.save_screenshot(str(out / f"{name}.png"))
    articles = [p for p in pages(site) if p.name.startswith("study-")]
    for where in ("section.card figure", ".gallery figure"):  # a claim's card with its figure, else the gallery
        page = next((p for p in articles if visit(browser, p) is not None
                     and browser.execute_script("return !!document.querySelector(arguments[0])", where)), None)
        if page is not None:
            browser.save_screenshot(str(out / f"article-{page.stem}.png"))  # its top: title, question, first card
            browser.execute_script("const f = document.querySelector(arguments[0]);"
                                   "(f.closest('section.card') || f.closest('.gallery').previousElementSibling)"
                                   ".scrollIntoView()", where)
            browser.save_screenshot(str(out / f"article-{page.stem}-figures.png"))
            break
    for page, section in viewer_pages(site, browser):
        visit(browser, page)
        browser.execute_script("document.getElementById(arguments[0]).scrollIntoView()", section)
        browser.save_screenshot(str(out / f"viewer-{page.stem}.png"))


GRID = [  # (kind, config): each setting transformer.js reads, at least once
    ("GPT", dict(pos_encoding="sinusoidal", norm="layer", activation="gelu", scale_embeddings=True,
                 tie_weights=False)),
    ("GPT", dict(pos_encoding="learned", norm="rms", norm_position="post", activation="relu", bias=False,
                 n_kv_heads=1, attn_scale=False, attn_temperature=2.0, residual_scale=0.5)),
    ("GPT", dict(pos_encoding="none", activation="swiglu", final_norm=False, n_kv_heads=2)),
    ("GPT", dict(norm="none", ffn=False, residual=False)),
    ("Seq2SeqTransformer", dict(pos_encoding="learned", pad_id=0)),
    ("Seq2SeqTransformer", dict(pos_encoding="sinusoidal", norm="rms", norm_position="post", tgt_vocab_size=7,
                                share_embeddings=False, tie_weights=False, n_encoder_layers=1)),
]


@pytest.mark.parametrize("kind,changes", GRID)
def test_the_page_forward_pass_is_blocklab_nn_for_every_setting_it_runs(kind, changes, browser, tmp_path):
    """WHAT: transformer.js's logits and patterns equal the float64 Python model's to 1e-9, with and without a head
    ablated, for each setting it reads. WHY: the end-to-end check above is on trained float32 models, where a
    slightly wrong formula (a tanh GELU, a missing bias) can hide under 1e-5; large random weights cannot hide it."""
    torch.manual_seed(0)
    common = dict(vocab_size=9, d_model=8, n_heads=4, d_ff=16, max_len=16, dropout=0.0)
    model = (GPT(GPTConfig(**common, **changes), head_bias=not changes.get("tie_weights", True)) if kind == "GPT"
             else Seq2SeqTransformer(Seq2SeqConfig(**common, **changes)))
    with torch.no_grad():
        for p in model.parameters():  # far from initialization: every term matters
            p.copy_(torch.randn_like(p) * (0.6 if p.ndim > 1 else 0.3) + (1.0 if p.ndim == 1 else 0.0))
    model.save(tmp_path / "model")
    exported = export_model(tmp_path / "model")
    model = load_any(tmp_path / "model").double()
    shutil.copy(Path(__file__).parents[2] / "src/blocklab/report/assets/transformer.js", tmp_path)
    (tmp_path / "blank.html").write_text("<!doctype html><script src='transformer.js'></script>")
    browser.get((tmp_path / "blank.html").as_uri())
    inputs = {"tokens": [1, 5, 0, 3, 8, 2]} if kind == "GPT" else {"src": [4, 0, 2, 8, 1], "dec": [3, 6, 0, 5]}
    for ablate in (None, ("blocks.0.attn" if kind == "GPT" else "decoder.blocks.0.cross_attn", 1)):
        page = browser.execute_script(
            "const T = BlocklabTransformer, ablated = {};"
            "if (arguments[2]) { ablated[arguments[2][0] + ':' + arguments[2][1]] = true; }"
            "const run = T.forward(new T.Model(arguments[0]), arguments[1], ablated);"
            "const patterns = {};"
            "for (const k in run.patterns) { patterns[k] = run.patterns[k].map(h => h.map(r => Array.from(r))); }"
            "return {logits: Array.from(run.logits), patterns: patterns};", exported, inputs, ablate)
        if ablate is not None:
            model.get_submodule(ablate[0]).head_mask[ablate[1]] = 0.0
        with torch.no_grad():
            logits, cache = run_python(model, inputs)
        got, want = torch.tensor(page["logits"], dtype=torch.float64), logits[0].reshape(-1)
        assert torch.allclose(got, want, atol=1e-9, rtol=1e-9), float((got - want).abs().max())
        assert set(page["patterns"]) == {k.removesuffix(".hook_pattern") for k in cache}
        for name, pattern in cache.items():
            got = torch.tensor(page["patterns"][name.removesuffix(".hook_pattern")], dtype=torch.float64)
            assert torch.allclose(got, pattern[0], atol=1e-9, rtol=0), name
