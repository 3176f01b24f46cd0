"""Every example's HTML in a real headless Chromium: it parses, renders something, logs no error."""

import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from backprop_derive import solve

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.yaml"))
EXAMPLES_BY_NAME = {path.stem: path for path in EXAMPLES}
CHROMIUM = next((path for path in map(shutil.which, ("chromium", "chromium-browser")) if path), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--hide-scrollbars", "--window-size=1000,1400",
         # NOTE: half the pixels each way keeps decoding the screenshot in pure Python quick.
         "--force-device-scale-factor=0.5"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")


def browse(page: Path) -> tuple[str, str, bytes]:
    """Load ``page`` once: the DOM as Chromium parsed it, its log, and a screenshot (PNG)."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        screenshot = Path(profile) / "page.png"
        result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}/data", f"--screenshot={screenshot}",
                                 "--dump-dom", page.as_uri()],
                                capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout, result.stderr, screenshot.read_bytes()


def pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the rows (RGB or RGBA bytes) of an 8-bit PNG, decoded with zlib alone."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    position, data = 8, b""
    while position < len(png):
        (length,) = struct.unpack(">I", png[position:position + 4])
        kind, body = png[position + 4:position + 8], png[position + 8:position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
        elif kind == b"IDAT":
            data += body
    size = 3 if colour == 2 else 4
    raw, stride, rows = zlib.decompress(data), width * size, []
    previous = bytes(stride)
    for row in range(height):
        start = row * (stride + 1) + 1
        kind, line = raw[start - 1], raw[start:start + stride]
        if kind == 2:  # Up, the filter most rows use: a fast path
            line = bytes((value + up) & 255 for value, up in zip(line, previous))
        elif kind in (1, 3, 4):
            line = _unfilter(kind, bytearray(line), previous, size)
        rows.append(line)
        previous = line
    return width, height, rows


def _unfilter(kind: int, line: bytearray, previous: bytes, size: int) -> bytes:
    for index in range(len(line)):
        left = line[index - size] if index >= size else 0
        up, corner = previous[index], previous[index - size] if index >= size else 0
        if kind == 1:
            line[index] = (line[index] + left) & 255
        elif kind == 3:
            line[index] = (line[index] + (left + up) // 2) & 255
        else:
            guess = left + up - corner
            distances = (abs(guess - left), abs(guess - up), abs(guess - corner))
            nearest = left if distances[0] <= distances[1] and distances[0] <= distances[2] else (
                up if distances[1] <= distances[2] else corner)
            line[index] = (line[index] + nearest) & 255
    return bytes(line)


def inked_rows(png: bytes) -> int:
    """How many rows of the screenshot have a pixel that is clearly not white (a channel below 180)."""
    _, _, rows = pixels(png)
    return sum(min(row) < 180 for row in rows)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("html")
    pages = []
    for example in EXAMPLES:
        page = folder / f"{example.stem}.html"
        page.write_text(solve(example).render("html"), encoding="utf-8")
        pages.append(page)
    # NOTE: two browsers at a time, as the machine has two cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip((page.stem for page in pages), zip(pages, pool.map(browse, pages))))


@pytest.mark.parametrize("example", [path.stem for path in EXAMPLES])
def test_the_mathml_survives_parsing(loaded, example):
    page, (dom, _, _) = loaded[example]
    source = page.read_text(encoding="utf-8")
    assert dom.count("<math") == source.count("<math") > 20
    text = EXAMPLES_BY_NAME[example].read_text(encoding="utf-8")
    # NOTE: a network has two figures, a circuit one; a network with layer types one per convolution or rnn.
    figures = 1 if "\ngraph:" in text else text.count("type: conv") + text.count("type: rnn") if "type:" in text else 2
    assert dom.count("<svg") == source.count("<svg") == figures and dom.count("<circle") == source.count("<circle")
    assert "<mfrac>" in dom and ("<msub>" in dom or "<msub>" not in source)  # (x, y, z, q, f: no subscripts)


@pytest.mark.parametrize("example", [path.stem for path in EXAMPLES])
def test_the_page_logs_no_console_error(loaded, example):
    _, (_, log, _) = loaded[example]
    problems = [line for line in log.splitlines() if re.search(r"CONSOLE|Uncaught", line)]
    assert problems == []


@pytest.mark.parametrize("example", [path.stem for path in EXAMPLES])
def test_the_screenshot_is_not_blank(loaded, example):
    _, (_, _, png) = loaded[example]
    # The page is longer than the window (700 rows at half scale): text and diagrams fill most rows.
    assert inked_rows(png) > 250


def test_no_equation_block_scrolls_when_it_fits(tmp_path):
    """An equation block scrolls sideways only when too wide; never vertically (a stray scrollbar)."""
    page = tmp_path / "page.html"
    # NOTE: a block scrolls vertically when its overflow-y is auto (or scroll) and its content is
    # taller than it; content past it by a pixel (rounding at half scale) is not a cut fraction.
    probe = ("<script>window.addEventListener('load', () => { const blocks = [...document.querySelectorAll('.chains')];"
             " const scrolls = b => ['auto', 'scroll'].includes(getComputedStyle(b).overflowY);"
             " document.body.setAttribute('data-scrolling', blocks.filter(b => scrolls(b) && b.scrollHeight > b.clientHeight"
             " || b.scrollHeight > b.clientHeight + 1).length);"
             " document.body.setAttribute('data-blocks', blocks.length); });</script></body>")
    html = solve(EXAMPLES[0].parent / "sigmoid_2_2_1.yaml").render("html").replace("</body>", probe)
    page.write_text(html, encoding="utf-8")
    dom, _, _ = browse(page)
    assert int(re.search(r'data-blocks="(\d+)"', dom).group(1)) > 3
    assert re.search(r'data-scrolling="(\d+)"', dom).group(1) == "0"
