"""HTML output: self-contained, MathML Core that parses, the solution's values, user strings escaped."""

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from click.testing import CliRunner

from backprop_derive import solve
from backprop_derive.cli import main
from backprop_derive.core.layered_solution import LayeredSolution
from backprop_derive.render.render_layers import presentation
from backprop_derive.render.typography import MathML

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.yaml"))
SEED = Path(__file__).resolve().parent.parent / "examples" / "seed_relu.yaml"

#: The elements of MathML Core (https://w3c.github.io/mathml-core/), which browsers implement.
MATHML_CORE = {"math", "mrow", "mi", "mn", "mo", "mtext", "mspace", "ms", "mfrac", "msqrt", "mroot", "msub",
               "msup", "msubsup", "munder", "mover", "munderover", "mmultiscripts", "mprescripts", "none",
               "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom", "merror", "semantics", "annotation",
               "annotation-xml"}

ESCAPING_SPEC = {
    "title": "<script>alert('x')</script> & friends",
    "inputs": {"1": 1, "2": -1},
    "neurons": {"3": {"activation": "relu", "in": {"1": 2, "2": -3}}},
    "targets": {"3": 0},
    "learning_rate": 0.1,
}


@pytest.fixture(scope="module", params=EXAMPLES, ids=lambda path: path.stem)
def page(request):
    solution = solve(request.param)
    return solution, solution.render("html")


def math_fragments(html: str) -> list[str]:
    return re.findall(r"<math\b.*?</math>", html, flags=re.S)


def test_every_math_fragment_is_well_formed_mathml_core(page):
    _, html = page
    fragments = math_fragments(html)
    assert len(fragments) > 20
    for fragment in fragments:
        root = ElementTree.fromstring(fragment)
        tags = {element.tag for element in root.iter()}
        assert tags <= MATHML_CORE, tags - MATHML_CORE


def test_the_page_is_self_contained_and_needs_no_script(page):
    _, html = page
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "nothing may load from the network"
    assert "@import" not in html


def test_the_pages_numbers_are_the_solutions_values(page):
    solution, html = page
    typography = MathML(solution.precision)
    # NOTE: a computational graph's updates are the solution's own (its derivation is the walk over the graph).
    updates = solution.updates if hasattr(solution, "updates") else solution.derivation.updates
    for update in updates:
        assert typography.number(solution.values[0][update.result]) in html
    assert typography.number(solution.exact_loss) in html


def test_every_figure_is_inline_svg_with_a_caption(page):
    solution, html = page
    figures = re.findall(r"<figure>(.*?)</figure>", html, flags=re.S)
    if isinstance(solution, LayeredSolution):
        drawn = [layer for layer in solution.network.layers
                 if layer.type in ("conv1d", "conv2d") or presentation(layer.type).figure]
        assert len(figures) == len(drawn), "a layered network: each convolution's maps, each rnn unrolled, once"
    elif hasattr(solution, "circuit"):
        assert len(figures) == 1, "a circuit: drawn once, with its values and gradients"
    else:
        assert len(figures) == 2, "the network, and the chain rule's paths in the backward pass"
    for figure in figures:
        svg = re.search(r"<svg\b.*?</svg>", figure, flags=re.S).group(0)
        ElementTree.fromstring(svg)
        assert "<figcaption>" in figure


def test_the_seed_exercise_shows_its_known_numbers():
    html = solve(SEED).render("html")
    assert "<mn>50</mn>" in html  # the loss
    assert "<mo>−</mo><mn>20</mn>" in html  # ∂L/∂w₂₃


def test_user_strings_are_escaped_everywhere():
    html = solve(ESCAPING_SPEC).render("html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; friends" in html
    # NOTE: node names are ASCII letters and digits (the spec refuses others), so the title is the
    # one user string that can hold markup.
    for fragment in math_fragments(html):
        ElementTree.fromstring(fragment)
    for svg in re.findall(r"<svg\b.*?</svg>", html, flags=re.S):
        ElementTree.fromstring(svg)


def test_jupyter_displays_a_fragment_that_does_not_restyle_the_notebook():
    solution = solve(SEED)
    fragment = solution._repr_html_()
    assert "<math" in fragment and "<svg" in fragment
    assert "<html" not in fragment and "<body" not in fragment
    styles = re.search(r"<style>(.*?)</style>", fragment, flags=re.S).group(1)
    selectors = [rule.split("{")[0] for rule in styles.split("}") if rule.strip() and "/*" not in rule]
    assert selectors and all(selector.strip().startswith(".backprop-derive") for selector in selectors), selectors
    assert solution._repr_markdown_().startswith("# ")


def test_cli_writes_html_by_suffix_or_by_format(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["solve", str(SEED), "-o", str(tmp_path / "solution.html")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "solution.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    result = runner.invoke(main, ["solve", str(SEED), "--format", "html"])
    assert result.exit_code == 0 and "<math" in result.output


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", {"name": "leaky_relu", "alpha": 0.2}, "elu",
                                        "softplus", "identity", {"expr": "sqrt(x**2 + 1) - abs(x)/2"}])
def test_every_activations_formulas_print_as_mathml_core(activation):
    spec = {"inputs": [1, -2], "targets": [0.5],
            "layers": [{"activation": activation, "weights": [[0.5, 0.25]], "biases": [0.1]}]}
    html = solve(spec).render("html")
    for fragment in math_fragments(html):
        assert {element.tag for element in ElementTree.fromstring(fragment).iter()} <= MATHML_CORE
    assert "<mo>-</mo>" not in html, "minus signs are U+2212"
