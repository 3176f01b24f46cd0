"""Writing output: Markdown with its SVG figures beside it, all files or none, and --template-dir."""

import os
import stat
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from click.testing import CliRunner

from backprop_derive import solve
from backprop_derive.cli import main
from backprop_derive.jobs import output

SEED = Path(__file__).resolve().parent.parent / "examples" / "seed_relu.yaml"


def run(*args):
    return CliRunner().invoke(main, ["solve", str(SEED), *args])


def test_markdown_with_o_writes_the_figures_as_svg_files_beside_it(tmp_path):
    result = run("-o", str(tmp_path / "seed.md"))
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["seed.chain.svg", "seed.md", "seed.network.svg"]
    markdown = (tmp_path / "seed.md").read_text(encoding="utf-8")
    assert "](seed.network.svg)" in markdown and "](seed.chain.svg)" in markdown
    assert "```mermaid" not in markdown
    for name in ("seed.network.svg", "seed.chain.svg"):
        ElementTree.parse(tmp_path / name)
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) & 0o044, "readable by others, as any new file"


def test_figure_file_names_with_spaces_are_linked_url_encoded(tmp_path):
    assert run("-o", str(tmp_path / "my seed.md")).exit_code == 0
    assert "](my%20seed.network.svg)" in (tmp_path / "my seed.md").read_text(encoding="utf-8")
    assert (tmp_path / "my seed.network.svg").exists()


def test_markdown_on_standard_output_draws_the_figures_in_mermaid():
    result = run("--format", "md")
    assert result.exit_code == 0
    assert result.output.count("```mermaid\nflowchart LR") == 2


def test_an_error_while_rendering_leaves_no_file(tmp_path, monkeypatch):
    def broken(diagram):
        raise RuntimeError("emitter failed")

    monkeypatch.setattr("backprop_derive.render.render.figure_svg", broken)
    result = run("-o", str(tmp_path / "seed.md"))
    assert isinstance(result.exception, RuntimeError)
    assert list(tmp_path.iterdir()) == []


def test_a_failure_after_the_first_file_is_in_place_removes_it_too(tmp_path, monkeypatch):
    real_replace = os.replace
    calls = []

    def replace_once(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(output.os, "replace", replace_once)
    result = run("-o", str(tmp_path / "seed.md"))
    assert result.exit_code == 2
    assert "cannot write there (No space left on device)" in result.output
    assert list(tmp_path.iterdir()) == [], "neither the document nor a figure, nor a temporary file, is left"


def test_template_dir_overrides_a_template_and_falls_back_for_the_others(tmp_path):
    (tmp_path / "solution.md.j2").write_text(
        "Custom sheet: {{ document.title }}\n{% for b in document.overview %}- {{ b.heading }}\n{% endfor %}",
        encoding="utf-8")
    result = run("--format", "md", "--template-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output == ("Custom sheet: The seed exercise — a 2-2-1 ReLU network\n"
                             "- The network\n- Inputs and targets\n- Local derivatives\n")
    result = run("--format", "txt", "--template-dir", str(tmp_path))
    assert result.exit_code == 0 and result.output.startswith("The seed exercise")
    assert solve(SEED).render("md", template_dir=tmp_path).startswith("Custom sheet")


def test_template_dir_overrides_the_tex_template_of_a_pdf_too(tmp_path):
    (tmp_path / "solution.tex.j2").write_text("not LaTeX at all (((document.title)))", encoding="utf-8")
    result = run("--format", "tex", "--template-dir", str(tmp_path))
    assert result.output == "not LaTeX at all The seed exercise — a 2-2-1 ReLU network"


def test_template_dir_must_be_an_existing_folder(tmp_path):
    result = run("--template-dir", str(tmp_path / "missing"))
    assert result.exit_code == 2 and "does not exist" in result.output


def test_an_error_in_a_template_of_ones_own_is_one_line_with_its_file_and_line(tmp_path):
    cases = {
        "# {{ document.title }\n": "line 1: unexpected '}'",
        "# {{ document.title }}\n{% for b in document.overview %}\n{{ b.headng }}\n{% endfor %}\n":
            "line 3: Block has no attribute 'headng'",
        "{% for b in document.overview %}\n{% endfor %}\n{{ 1 / 0 }}\n": "line 3: division by zero",
        "\n{% include 'missing.j2' %}\n": "line 2: 'missing.j2' not found",
    }
    target = tmp_path / "out.md"
    for template, expected in cases.items():
        (tmp_path / "solution.md.j2").write_text(template, encoding="utf-8")
        result = run("--template-dir", str(tmp_path), "-o", str(target))
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1 and "Traceback" not in result.output
        assert result.output.startswith(f"Error: {tmp_path / 'solution.md.j2'}, {expected}"), result.output
        assert not target.exists(), "nothing written"


def test_the_readme_documents_every_variable_a_template_receives():
    from dataclasses import fields

    from backprop_derive.render.document import Block, Document, Plot, Table
    from backprop_derive.render.present import Line

    readme = (SEED.parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("#### Templates"):]
    section = section[:section.index("\n### ")]
    for kind in (Document, Block, Line, Table, Plot):
        for field in fields(kind):
            assert f"`{field.name}`" in section or f"`document.{field.name}`" in section, (kind.__name__, field.name)
    for name in ("standalone", "figure_stem", "figure_file", "tex_escape", "svg", "tikz", "mermaid", "is math"):
        assert name in section
