"""Plots of the loss per step, and --steps ending with one in every text format."""

import xml.etree.ElementTree as ElementTree
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from backprop_derive import solve
from backprop_derive.cli import main
from backprop_derive.render.plot import mermaid_plot, nice_ticks, pgfplots_plot, svg_line_plot, text_plot

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
POINTS = [(1, 0.5), (2, 0.4), (3, 0.32), (4, 0.25)]
SVG = "{http://www.w3.org/2000/svg}"


def test_the_svg_plot_is_well_formed_with_a_marker_per_step():
    svg = ElementTree.fromstring(svg_line_plot(POINTS, y_label="J", title="Loss <per> step"))
    assert svg.tag == f"{SVG}svg"
    assert svg.find(f"{SVG}title").text == "Loss <per> step"
    assert len(svg.findall(f"{SVG}circle")) == len(POINTS)
    texts = [text.text for text in svg.iter(f"{SVG}text")]
    assert "J" in texts and "step" in texts and {"1", "2", "3", "4"} <= set(texts)


def test_the_svg_line_falls_where_the_loss_falls():
    svg = ElementTree.fromstring(svg_line_plot(POINTS))
    heights = [float(circle.get("cy")) for circle in svg.findall(f"{SVG}circle")]
    assert heights == sorted(heights), "a smaller loss is drawn lower (a larger y in SVG)"


@given(st.floats(-1e6, 1e6), st.floats(1e-6, 1e6))
def test_nice_ticks_cover_the_range_evenly(low, spread):
    high = low + spread
    ticks = nice_ticks(low, high)
    tolerance = 1e-9 * max(abs(low), abs(high), spread)
    assert ticks[0] <= low + tolerance and ticks[-1] >= high - tolerance
    gaps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:])}
    assert len(gaps) <= 2  # equal up to rounding
    assert 3 <= len(ticks) <= 12


def test_text_and_mermaid_plots_hold_every_point():
    text = text_plot(POINTS, y_label="E")
    assert text.count("•") == len(POINTS) and text.splitlines()[0].strip() == "E"
    mermaid = mermaid_plot(POINTS, y_label="J")
    assert mermaid.startswith("xychart-beta") and "line [0.5, 0.4, 0.32, 0.25]" in mermaid
    assert "(4,0.25)" in pgfplots_plot(POINTS)


def test_markdown_to_a_file_links_an_svg_written_beside_it(tmp_path):
    target = tmp_path / "seed run.md"
    result = CliRunner().invoke(main, ["solve", str(EXAMPLES / "seed_relu.yaml"), "--steps", "3", "-o", str(target)])
    assert result.exit_code == 0, result.output
    svg = tmp_path / "seed run.loss.svg"
    assert svg.exists() and ElementTree.fromstring(svg.read_text(encoding="utf-8")).tag == f"{SVG}svg"
    assert "](seed%20run.loss.svg)" in target.read_text(encoding="utf-8")


def test_markdown_on_standard_output_draws_the_plot_in_mermaid():
    result = CliRunner().invoke(main, ["solve", str(EXAMPLES / "seed_relu.yaml"), "--steps", "3", "--format", "md"])
    assert result.exit_code == 0
    assert "```mermaid\nxychart-beta" in result.output and ".svg" not in result.output


def test_one_step_has_no_plot():
    assert "xychart" not in solve(EXAMPLES / "seed_relu.yaml").render("md")


def test_text_ends_with_the_loss_table_and_a_drawn_plot():
    text = solve(EXAMPLES / "seed_relu.yaml", steps=3).render("txt")
    tail = text.split("Loss per step")[1]
    assert tail.count("•") == 3 and "┤" in tail


def test_latex_loads_pgfplots_only_for_a_plot():
    assert r"\usepackage{pgfplots}" in solve(EXAMPLES / "seed_relu.yaml", steps=2).render("tex")
    assert "pgfplots" not in solve(EXAMPLES / "seed_relu.yaml").render("tex")


def test_a_thinned_text_plot_ends_at_the_last_step_and_labels_the_true_lowest_cost():
    points = [(step, 1 / step) for step in range(1, 1001)]
    text = text_plot(points, y_label="J")
    axis = text.splitlines()[-1]
    assert "1000" in axis.split() and "987" not in axis, "the last column is the last step"
    assert text.splitlines()[-3].strip().startswith(f"{1 / 1000:.6g} ┤"), "the lowest label is the final cost"
    assert text.splitlines()[-3].rstrip().endswith("•"), "the last step is drawn"


def test_solve_with_many_steps_plots_up_to_the_last_one():
    result = CliRunner().invoke(main, ["solve", str(EXAMPLES / "sigmoid_2_2_1.yaml"), "--steps", "70",
                                       "--format", "txt"])
    assert result.exit_code == 0, result.output
    solution = solve(EXAMPLES / "sigmoid_2_2_1.yaml", steps=70)
    final = float(solution.values[-1][solution.derivation.cost])
    plot = result.output[result.output.rindex("Loss per step"):].splitlines()
    axis = next(line for line in plot if line.rstrip().endswith("and the last)"))
    assert axis.split()[1] == "70"
    lowest = [line for line in plot if "┤" in line][-1]
    assert lowest.split("┤")[0].strip() == f"{final:.6g}"
