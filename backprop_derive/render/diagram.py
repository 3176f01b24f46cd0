"""Diagrams of the network: the layout computed once, then drawn as TikZ, SVG or Mermaid."""

from __future__ import annotations

import html
import weakref
from dataclasses import dataclass, replace

from ..core.network import Network, Node, Parameter
from ..core.steps import Quantity
from .typography import Latex, Unicode

#: Distances in centimetres: between layers, between units of a layer, a node's radius.
COLUMN = 5.4
ROW = 2.3
RADIUS = 0.55
#: The loss sits closer to the outputs than a layer to the next.
LOSS_COLUMN = 2.4
MARGIN = 0.6
#: Rough size of a label's text (cm), for keeping labels apart: per character, and its height.
CHARACTER = 0.15
LINE = 0.36
#: Where along an edge its weight may go, tried in this order: on the edge, then just above or below it.
LABEL_POSITIONS = (0.5, 0.35, 0.65, 0.25, 0.75, 0.2, 0.8)
LABEL_SHIFTS = (0.0, -0.24, 0.24, -0.44, 0.44)
#: Space kept clear around a placed label (cm), so that two labels never touch; an arrowhead's size.
LABEL_GAP = 0.12
ARROWHEAD = 0.4
#: Pixels per centimetre in SVG.
PIXELS = 40
#: Beyond this many weights the edges carry no labels: a thicket of numbers helps no one, the
#: network's table lists them.
MAX_LABELLED = 36


@dataclass(frozen=True)
class Label:
    """A piece of text in both forms: LaTeX (TikZ) and Unicode (SVG, Mermaid)."""

    tex: str
    text: str


@dataclass(frozen=True)
class Place:
    """A drawn node: its position, its name, an optional note under it (the bias)."""

    key: str
    x: float
    y: float
    label: Label
    note: Label | None
    is_loss: bool
    highlighted: bool


@dataclass(frozen=True)
class Edge:
    """A drawn edge; ``controls`` makes it a cubic curve (a skip connection bent around a layer).

    ``under`` is a second label below the edge (a circuit's gradient, under the value above it).
    """

    source: Place
    target: Place
    controls: tuple[tuple[float, float], tuple[float, float]] | None
    label: Label | None
    label_at: tuple[float, float]
    highlighted: bool
    under: Label | None = None
    under_at: tuple[float, float] = (0.0, 0.0)

    def point(self, t: float) -> tuple[float, float]:
        """The point at parameter ``t`` (0 at the source, 1 at the target)."""
        start, end = (self.source.x, self.source.y), (self.target.x, self.target.y)
        if self.controls is None:
            return (start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]))
        first, second = self.controls
        weights = ((1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t ** 2 * (1 - t), t ** 3)
        points = (start, first, second, end)
        return (sum(w * p[0] for w, p in zip(weights, points)), sum(w * p[1] for w, p in zip(weights, points)))


@dataclass(frozen=True)
class Diagram:
    """A network laid out left to right, one column per layer, ready for any emitter.

    Attributes:
        name: ``network`` or ``chain``; names the figure's file and its SVG ids.
        places: Inputs, neurons, then the loss.
        edges: Weights, then each output's edge to the loss.
        caption: One sentence under the figure.
        bounds: What the drawing covers (left, top, right, bottom), in cm, margins included.
    """

    name: str
    places: tuple[Place, ...]
    edges: tuple[Edge, ...]
    caption: Label
    bounds: tuple[float, float, float, float]


# --- building ----------------------------------------------------------------------------


def solution_diagrams(solution) -> dict[str, Diagram]:
    """The solution's figures: ``network`` (the exercise) and ``chain`` (the chain rule's paths for the
    first weight into the first layer), the second only when the network has a weight.

    NOTE: drawn once per solution (the label placement is costly; a document with files draws twice).
    """
    if solution not in _DRAWN:
        _DRAWN[solution] = _drawn(solution)
    return _DRAWN[solution]


_DRAWN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _drawn(solution) -> dict[str, Diagram]:
    network = solution.network
    diagrams = {"network": _diagram(solution)}
    weight = next((parameter for parameter in network.parameters
                   if parameter.kind == "weight" and parameter.target.layer == 1), None)
    if weight is not None:
        diagrams["chain"] = _highlighted(diagrams["network"], solution, weight)
    return diagrams


def _highlighted(diagram: Diagram, solution, weight: Parameter) -> Diagram:
    """The network's drawing with the chain rule's paths from ``weight`` to the loss highlighted.

    NOTE: the layout (and its costly label placement) is the network's own; only the marks change.
    """
    network = solution.network
    hot_nodes, hot_weights = _chain(network, weight)
    nodes = network.inputs + network.neurons
    places = {node: replace(place, highlighted=node in hot_nodes) for node, place in zip(nodes, diagram.places)}
    places[None] = replace(diagram.places[-1], highlighted=bool(hot_nodes))
    by_key = {place.key: place for place in places.values()}
    ends = [weight for neuron in network.neurons for weight in neuron.incoming] + list(network.outputs)
    edges = tuple(replace(edge, source=by_key[edge.source.key], target=by_key[edge.target.key],
                          highlighted=end in (hot_weights if isinstance(end, Parameter) else hot_nodes))
                  for edge, end in zip(diagram.edges, ends))
    caption = _chain_caption(solution, weight, Latex(solution.precision), Unicode(solution.precision))
    return Diagram("chain", tuple(places[node] for node in (*nodes, None)), edges, caption, diagram.bounds)


def _diagram(solution) -> Diagram:
    """The exercise's network: nodes, weights with their values, biases, laid out once."""
    network, notation, values = solution.network, solution.notation, solution.values[0]
    latex, unicode = Latex(solution.precision), Unicode(solution.precision)

    def label(quantity: Quantity, value=None) -> Label:
        if value is None:
            return Label(latex.name(notation, quantity), unicode.name(notation, quantity))
        return Label(latex.equals(latex.name(notation, quantity), latex.number(value)),
                     unicode.equals(unicode.name(notation, quantity), unicode.number(value)))

    positions = _positions(network)
    places: dict[Node | None, Place] = {}
    for index, node in enumerate(network.inputs + network.neurons):
        kind = "input" if node.is_input else "out"
        note = None
        if node.bias is not None:
            bias = Quantity("param", parameter=node.bias)
            note = label(bias, values[bias])
        x, y = positions[node]
        places[node] = Place(f"n{index}", x, y, label(Quantity(kind, node)), note, False, False)
    loss_x, loss_y = positions[None]
    cost = solution.derivation.cost
    places[None] = Place("loss", loss_x, loss_y, label(Quantity(cost.kind)), None, True, False)

    obstacles = [_box(place.x, place.y, 2 * RADIUS, 2 * RADIUS) for place in places.values()]
    obstacles += [_note_box(place) for place in places.values() if place.note]
    labelled = sum(len(neuron.incoming) for neuron in network.neurons) <= MAX_LABELLED
    drafts = []
    for neuron in network.neurons:
        for weight in neuron.incoming:
            quantity = Quantity("param", parameter=weight)
            source, target = places[weight.source], places[neuron]
            controls = _bend(source, target, [place for node, place in places.items()
                                              if node is not None and source.x < place.x < target.x])
            drafts.append(Edge(source, target, controls, label(quantity, values[quantity]) if labelled else None,
                               (0, 0), False))
    drafts += [Edge(places[output], places[None], None, None, (0, 0), False)
               for output in network.outputs]
    # NOTE: a label over an arrowhead hides which way the edge goes.
    obstacles += [_box(*_arrow_tip(edge), ARROWHEAD, ARROWHEAD) for edge in drafts]
    # NOTE: each label goes where it hides the fewest other edges, labels and nodes, in edge order.
    tracks = [_track(edge) for edge in drafts]
    edges, curves = [], []
    for index, edge in enumerate(drafts):
        at = edge.label_at
        if edge.label:
            at = _label_place(edge, obstacles, tracks[:index] + tracks[index + 1:])
            width, height = _label_size(edge.label)
            obstacles.append(_box(*at, width + 2 * LABEL_GAP, height + 2 * LABEL_GAP))
        curves += [_box(x, y, 0, 0) for x, y in edge.controls or ()]
        edges.append(Edge(edge.source, edge.target, edge.controls, edge.label, at, edge.highlighted))

    words = ("The network: each weight on its edge, each bias at its neuron." if labelled
             else "The network; its weights are listed in the table.")
    caption = Label(words, words)
    covered = obstacles + curves
    bounds = (min(box[0] for box in covered) - MARGIN, min(box[1] for box in covered) - MARGIN,
              max(box[2] for box in covered) + MARGIN, max(box[3] for box in covered) + MARGIN)
    return Diagram("network", tuple(places.values()), tuple(edges), caption, bounds)


def _positions(network: Network) -> dict[Node | None, tuple[float, float]]:
    """Each node's centre: x by layer, units of a layer stacked and centred; None is the loss."""
    columns = [list(network.inputs)] + network.layers
    tallest = max(len(column) for column in columns)
    positions: dict[Node | None, tuple[float, float]] = {}
    for number, column in enumerate(columns):
        x = MARGIN + RADIUS + number * COLUMN
        offset = (tallest - len(column)) * ROW / 2
        for row, node in enumerate(sorted(column, key=lambda node: node.unit)):
            positions[node] = (x, MARGIN + RADIUS + offset + row * ROW)
    last = max(x for x, _ in positions.values())
    outputs = [positions[node][1] for node in network.outputs]
    positions[None] = (last + LOSS_COLUMN, sum(outputs) / len(outputs))
    return positions


def _chain(network: Network, weight: Parameter) -> tuple[set, set]:
    """The nodes and weights on the chain rule's paths from ``weight`` to the loss."""
    outputs = set(network.outputs)
    reaches: dict[Node, bool] = {}
    for neuron in reversed(network.neurons):
        reaches[neuron] = neuron in outputs or any(reaches[consumer] for consumer, _ in network.consumers(neuron))
    nodes, weights, frontier = set(), {weight}, [weight.target]
    while frontier:
        node = frontier.pop()
        if node in nodes or not reaches[node]:
            continue
        nodes.add(node)
        for consumer, edge in network.consumers(node):
            if reaches[consumer]:
                weights.add(edge)
                frontier.append(consumer)
    return nodes, weights


def _chain_caption(solution, weight: Parameter, latex: Latex, unicode: Unicode) -> Label:
    notation = solution.notation
    gradient = next(step for step in solution.derivation.gradients if step.parameter is weight)
    count = gradient.path_count
    loss = Quantity(solution.derivation.cost.kind)
    forms = []
    for typography, math in ((latex, "${}$"), (unicode, "{}")):
        names = [math.format(typography.name(notation, quantity))
                 for quantity in (gradient.result, Quantity("param", parameter=weight), loss)]
        paths = "the highlighted path" if count == 1 else f"the {count} highlighted paths"
        summed = "" if count == 1 else "; their products of local derivatives add up"
        forms.append(f"The chain rule for {names[0]} follows {paths} from {names[1]} to {names[2]}{summed}.")
    return Label(*forms)


def _bend(source: Place, target: Place, between: list[Place]) -> tuple | None:
    """Control points taking an edge around the nodes it would cross, or None when it is clear."""
    def distance(place: Place) -> float:
        t = (place.x - source.x) / (target.x - source.x)
        return abs(source.y + t * (target.y - source.y) - place.y)

    if all(distance(place) > 1.5 * RADIUS for place in between):
        return None
    middle = (source.y + target.y) / 2
    upward = middle <= sum(place.y for place in between) / len(between)
    clear = (min(place.y for place in between) - ROW / 2) if upward else (max(place.y for place in between) + ROW / 2)
    # NOTE: a cubic with both control points moved by d moves its middle by 3d/4.
    shift = (clear - middle) * 4 / 3
    third = (target.x - source.x) / 3
    return ((source.x + third, source.y + shift), (target.x - third, target.y + shift))


def _label_size(label: Label) -> tuple[float, float]:
    return len(label.text) * CHARACTER + 0.1, LINE


def _box(x: float, y: float, width: float, height: float) -> tuple[float, float, float, float]:
    return (x - width / 2, y - height / 2, x + width / 2, y + height / 2)


def _note_box(place: Place) -> tuple[float, float, float, float]:
    width, height = _label_size(place.note)
    return _box(place.x, place.y + RADIUS + height / 2, width, height)


def _arrow_tip(edge: Edge) -> tuple[float, float]:
    """Where an edge's arrowhead sits: at the border of its target, on the side it comes from."""
    end = (edge.target.x, edge.target.y)
    last = edge.controls[1] if edge.controls else (edge.source.x, edge.source.y)
    return _towards(end, last, RADIUS + ARROWHEAD / 2)


def _track(edge: Edge) -> tuple[tuple[float, float, float, float], list]:
    """Points along an edge, and the box around them, to tell which labels would hide it."""
    points = [edge.point(step / 24) for step in range(25)]
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return (min(xs), min(ys), max(xs), max(ys)), points


def _label_place(edge: Edge, obstacles: list, tracks: list) -> tuple[float, float]:
    """The first spot along the edge where its label covers the least: boxes first, then other edges."""
    width, height = _label_size(edge.label)

    def covered(point) -> tuple[float, int]:
        left, top, right, bottom = _box(*point, width, height)
        area = sum(max(0.0, min(right, box[2]) - max(left, box[0])) * max(0.0, min(bottom, box[3]) - max(top, box[1]))
                   for box in obstacles)
        crossed = sum(any(left <= x <= right and top <= y <= bottom for x, y in points)
                      for (low_x, low_y, high_x, high_y), points in tracks
                      if low_x <= right and left <= high_x and low_y <= bottom and top <= high_y)
        return round(area, 2), crossed

    candidates = [(x, y + shift) for shift in LABEL_SHIFTS for x, y in map(edge.point, LABEL_POSITIONS)]
    return min(candidates, key=covered)


# --- emitters ----------------------------------------------------------------------------


def tikz(diagram: Diagram) -> str:
    """A ``tikzpicture`` (needs ``\\usepackage{tikz}``), scaled down to the line width if wider."""
    lines = [r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
             r"\begin{tikzpicture}[x=1cm, y=-1cm, >=stealth,",
             f"  unit/.style={{circle, draw, fill=white, minimum size={2 * RADIUS}cm, inner sep=0pt}},",
             r"  loss/.style={rectangle, draw, fill=white, minimum size=7mm},",
             r"  hot/.style={draw=red!70!black, very thick}, hotfill/.style={fill=red!8},",
             r"  weight/.style={font=\scriptsize, fill=white, inner sep=1pt},",
             r"  note/.style={font=\scriptsize, anchor=north, inner sep=2pt}]"]
    for place in diagram.places:
        style = ("loss" if place.is_loss else "unit") + (", hot, hotfill" if place.highlighted else "")
        lines.append(f"\\node[{style}] ({place.key}) at ({place.x:.2f},{place.y:.2f}) {{${place.label.tex}$}};")
        if place.note:
            lines.append(f"\\node[note] at ({place.key}.south) {{${place.note.tex}$}};")
    for edge in diagram.edges:
        style = "->, hot" if edge.highlighted else "->, draw=black!60"
        route = "--"
        if edge.controls:
            (ax, ay), (bx, by) = edge.controls
            route = f".. controls ({ax:.2f},{ay:.2f}) and ({bx:.2f},{by:.2f}) .."
        lines.append(f"\\draw[{style}] ({edge.source.key}) {route} ({edge.target.key});")
    for edge in diagram.edges:
        if edge.label:
            style = "weight, text=red!70!black" if edge.highlighted else "weight"
            lines.append(f"\\node[{style}] at ({edge.label_at[0]:.2f},{edge.label_at[1]:.2f}) {{${edge.label.tex}$}};")
        if edge.under:
            lines.append(f"\\node[weight, text=red!70!black] at ({edge.under_at[0]:.2f},{edge.under_at[1]:.2f}) "
                         f"{{${edge.under.tex}$}};")
    lines += [r"\end{tikzpicture}}"]
    return "\n".join(lines)


_HOT = "#b03a2e"


def svg(diagram: Diagram) -> str:
    """An ``<svg>`` element, usable inline in HTML or as a file of its own."""
    def px(value: float) -> str:
        return f"{round(value * PIXELS, 1) + 0.0:.1f}"  # NOTE: + 0.0 turns a rounded -0.0 into 0.0

    left, top, right, bottom = diagram.bounds
    width, height = px(right - left), px(bottom - top)
    marker = f"arrow-{diagram.name}"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{px(left)} {px(top)} {width} {height}" width="{width}" '
             f'height="{height}" role="img" font-family="serif" font-size="15">',
             f"<title>{html.escape(diagram.caption.text)}</title>",
             "<defs>"]
    for suffix, colour in (("", "#555"), ("-hot", _HOT)):
        parts.append(f'<marker id="{marker}{suffix}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" '
                     f'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/>'
                     f"</marker>")
    parts.append("</defs>")
    for edge in diagram.edges:
        colour, thickness, suffix = (_HOT, 3, "-hot") if edge.highlighted else ("#555", 1.3, "")
        parts.append(f'<path d="{_svg_path(edge, px)}" fill="none" stroke="{colour}" stroke-width="{thickness}" '
                     f'marker-end="url(#{marker}{suffix})"/>')
    for place in diagram.places:
        stroke, fill, thickness = (_HOT, "#fbeae8", 3) if place.highlighted else ("#222", "#fff", 1.5)
        x, y = px(place.x), px(place.y)
        if place.is_loss:
            side = 0.7 * PIXELS
            parts.append(f'<rect x="{place.x * PIXELS - side / 2:.1f}" y="{place.y * PIXELS - side / 2:.1f}" '
                         f'width="{side:.1f}" height="{side:.1f}" fill="{fill}" stroke="{stroke}" '
                         f'stroke-width="{thickness}"/>')
        else:
            parts.append(f'<circle cx="{x}" cy="{y}" r="{px(RADIUS)}" fill="{fill}" stroke="{stroke}" '
                         f'stroke-width="{thickness}"/>')
        parts.append(f'<text x="{x}" y="{y}" text-anchor="middle" dominant-baseline="central" font-style="italic" '
                     f'font-size="14">{html.escape(place.label.text)}</text>')
        if place.note:
            parts.append(f'<text x="{x}" y="{px(place.y + RADIUS + LINE * 0.6)}" text-anchor="middle" '
                         f'dominant-baseline="central" font-size="11">{html.escape(place.note.text)}</text>')
    for edge in diagram.edges:
        if edge.label:
            colour = _HOT if edge.highlighted else "#222"
            parts.append(f'<text x="{px(edge.label_at[0])}" y="{px(edge.label_at[1])}" text-anchor="middle" '
                         f'dominant-baseline="central" font-size="11" fill="{colour}" stroke="#fff" '
                         f'stroke-width="5" stroke-linejoin="round" paint-order="stroke">'
                         f"{html.escape(edge.label.text)}</text>")
        if edge.under:
            parts.append(f'<text x="{px(edge.under_at[0])}" y="{px(edge.under_at[1])}" text-anchor="middle" '
                         f'dominant-baseline="central" font-size="11" fill="{_HOT}" stroke="#fff" '
                         f'stroke-width="5" stroke-linejoin="round" paint-order="stroke">'
                         f"{html.escape(edge.under.text)}</text>")
    parts.append("</svg>")
    return "\n".join(parts)


def _svg_path(edge: Edge, px) -> str:
    """The edge from border to border of its nodes, so that the arrowhead touches the target."""
    start, end = (edge.source.x, edge.source.y), (edge.target.x, edge.target.y)
    first, last = edge.controls or (end, start)
    start = _towards(start, first, RADIUS)
    end = _towards(end, last, 0.35 + 0.05 if edge.target.is_loss else RADIUS)
    if edge.controls is None:
        return f"M{px(start[0])},{px(start[1])} L{px(end[0])},{px(end[1])}"
    (ax, ay), (bx, by) = edge.controls
    return f"M{px(start[0])},{px(start[1])} C{px(ax)},{px(ay)} {px(bx)},{px(by)} {px(end[0])},{px(end[1])}"


def _towards(point, other, distance: float) -> tuple[float, float]:
    dx, dy = other[0] - point[0], other[1] - point[1]
    length = (dx * dx + dy * dy) ** 0.5 or 1.0
    return (point[0] + dx / length * distance, point[1] + dy / length * distance)


def mermaid(diagram: Diagram) -> str:
    """A Mermaid ``flowchart LR`` (for Markdown on standard output, where no SVG file can go beside)."""
    def quoted(text: str) -> str:
        return '"' + text.replace('"', "#quot;") + '"'

    lines = ["flowchart LR"]
    for place in diagram.places:
        text = place.label.text + (f"<br/>{place.note.text}" if place.note else "")
        shape = f"[{quoted(text)}]" if place.is_loss else f"(({quoted(text)}))"
        lines.append(f"  {place.key}{shape}")
    for edge in diagram.edges:
        text = edge.label.text if edge.label else ""
        if edge.under:
            text += f"<br/>{edge.under.text}"
        arrow = f" -- {quoted(text)} --> " if text else " --> "
        lines.append(f"  {edge.source.key}{arrow}{edge.target.key}")
    hot_edges = [str(index) for index, edge in enumerate(diagram.edges) if edge.highlighted]
    hot_places = [place.key for place in diagram.places if place.highlighted]
    if hot_places:
        lines.append(f"  classDef hot stroke:{_HOT},stroke-width:3px")
        lines.append(f"  class {','.join(hot_places)} hot")
    if hot_edges:
        lines.append(f"  linkStyle {','.join(hot_edges)} stroke:{_HOT},stroke-width:3px")
    return "\n".join(lines)


# --- circuits ----------------------------------------------------------------------------

#: A circuit's columns are closer than a network's layers; its wires carry two labels each.
GATE_COLUMN = 3.6
WIRE_LABEL = 0.26


def circuit_diagram(solution, solved: bool = True) -> Diagram:
    """A `graph:` exercise drawn as course notes draw a circuit: leaves on the left, each gate a circle with
    its mark (+, ×, exp, σ), each wire's value above it and the gradient sent back along it below it.

    Args:
        solution: The GraphSolution.
        solved: False for a problem sheet: each wire carries its name only.
    """
    graph, notation, values = solution.circuit.graph, solution.notation, solution.values[0]
    latex, unicode = Latex(solution.precision), Unicode(solution.precision)

    def named_value(ref) -> Label:
        if not solved:
            return Label(latex.name(notation, ref), unicode.name(notation, ref))
        return Label(latex.equals(latex.name(notation, ref), latex.number(values[ref])),
                     unicode.equals(unicode.name(notation, ref), unicode.number(values[ref])))

    def number(value) -> Label:
        return Label(latex.number(value), unicode.number(value))

    from ..core.graph import CONSTANT_MARK, Ref  # NOTE: deferred: diagram is otherwise about networks

    column = {leaf.name: 0 for leaf in graph.leaves}
    for node in graph.nodes:
        column[node.name] = 1 + max(column[name] for name in node.inputs)
    # NOTE: leaves stacked in the order the gates first use them, so that few wires cross.
    first_use = list(dict.fromkeys(name for node in graph.nodes for name in node.inputs if graph.leaf(name)))
    first_use += [leaf.name for leaf in graph.leaves if leaf.name not in first_use]
    rows: dict[str, float] = {name: float(index) for index, name in enumerate(first_use)}
    for node in graph.nodes:
        rows[node.name] = sum(rows[name] for name in node.inputs) / len(node.inputs)
    # NOTE: a node sits level with the mean of its inputs, pushed down where it would touch another.
    for number_ in sorted(set(column.values())):
        taken = -1.0
        for name in sorted((name for name in column if column[name] == number_), key=rows.__getitem__):
            rows[name] = max(rows[name], taken + 1)
            taken = rows[name]
    # NOTE: columns wide enough that the longest wire label clears the circles at both ends.
    widest = max(_label_size(named_value(Ref("value", name)))[0] for name in column)
    spacing = max(GATE_COLUMN, widest + 2 * RADIUS + 0.4)
    places: dict[str, Place] = {}
    for index, name in enumerate(column):
        x, y = MARGIN + RADIUS + column[name] * spacing, MARGIN + RADIUS + rows[name] * ROW
        leaf = graph.leaf(name)
        if leaf is None:
            node = next(node for node in graph.nodes if node.name == name)
            constant = "" if node.constant is None else latex.number(node.constant)
            tex, text = node.operation.mark(constant)
            if constant:
                text = node.operation.mark(unicode.number(node.constant))[1]
            label = Label(tex, text)
        elif name.startswith(CONSTANT_MARK):
            label = number(leaf.value)
        else:
            label = Label(latex.name(notation, Ref("value", name)), unicode.name(notation, Ref("value", name)))
        places[name] = Place(f"n{index}", x, y, label, None, False, False)
    top = graph.output
    end = places[top]
    top_label = Label(latex.name(notation, Ref("value", top)), unicode.name(notation, Ref("value", top)))
    places[""] = Place("out", end.x + spacing, end.y, top_label, None, True, False)
    sent_back = {(step.node.name, step.slot): step.result for step in solution.derivation.backward
                 if hasattr(step, "slot")}
    edges = []
    for node in graph.nodes:
        for slot, name in enumerate(node.inputs):
            sent = sent_back.get((node.name, slot))
            edges.append(_wire(places[name], places[node.name], named_value(Ref("value", name)),
                               number(values[sent]) if sent is not None and solved else None))
    edges.append(_wire(end, places[""], named_value(Ref("value", top)),
                       number(values[Ref("grad", top)]) if solved else None))
    words = ("The circuit: each wire's value above it, the gradient sent back along it below it (in red)."
             if solved else "The circuit: each wire carries the value it is named after.")
    boxes = [_box(place.x, place.y, 2 * RADIUS, 2 * RADIUS) for place in places.values()]
    for edge in edges:
        boxes += [_box(*edge.label_at, *_label_size(edge.label))]
        if edge.under:
            boxes.append(_box(*edge.under_at, *_label_size(edge.under)))
    bounds = (min(box[0] for box in boxes) - MARGIN, min(box[1] for box in boxes) - MARGIN,
              max(box[2] for box in boxes) + MARGIN, max(box[3] for box in boxes) + MARGIN)
    return Diagram("circuit" if solved else "problem", tuple(places.values()), tuple(edges), Label(words, words),
                   bounds)


def _wire(source: Place, target: Place, above: Label, below: Label | None) -> Edge:
    """A straight wire with its value just above its middle and its gradient just below."""
    middle = ((source.x + target.x) / 2, (source.y + target.y) / 2)
    return Edge(source, target, None, above, (middle[0], middle[1] - WIRE_LABEL), False, below,
                (middle[0], middle[1] + WIRE_LABEL))
