"""The top of the pipeline for layered exercises (SPEC §2.5): a LayeredNetwork in, a LayeredSolution out."""

from __future__ import annotations

from dataclasses import dataclass

from .graph import Ref
from .graph_solution import GraphSolution, solve_circuit
from .layers import LayeredNetwork, Tensor
from .notation import RATE, GraphNotation, Name


class LayeredNotation(GraphNotation):
    """Names a layered exercise's quantities by the Names its layers gave their entries: z^{[1]}_{12},
    K^{[1]}_{11}, ∂J/∂z^{[1]}_{12}; updates as K^{[1],new}_{11}."""

    style = "layered"

    def __init__(self, network: LayeredNetwork) -> None:
        self.top = network.graph.output
        self._cache = {}
        self._targets: dict[str, str] = {}
        self._labels = network.labels

    def name(self, ref) -> Name:
        if ref.kind == "rate":
            return Name(RATE)
        label = self._labels[ref.name]
        if ref.kind == "new":
            return Name(label.base, label.layer, label.indices, label.example, label.example_mark, new=True)
        return label

    def _parts(self, ref) -> tuple[Name, Name] | None:
        if ref.kind in ("grad", "sent"):
            return self._labels[self.top], self._labels[ref.name]
        return None

    def _via(self, ref) -> tuple[str, str]:
        via = self._labels[ref.via]
        slot = "" if ref.slot is None else f",{ref.slot + 1}"
        return via.tex() + slot, via.text() + slot.replace(",", ".")

    def _mathml(self, ref) -> str:
        if ref.kind == "sent":
            parts = self._parts(ref)
            fraction = (f"<mfrac><mrow><mi>∂</mi>{parts[0].mathml()}</mrow>"
                        f"<mrow><mi>∂</mi>{parts[1].mathml()}</mrow></mfrac>")
            return f"<msub><mrow>{fraction}<mo>|</mo></mrow><mrow>{self._labels[ref.via].mathml()}</mrow></msub>"
        return super()._mathml(ref)

    def _ascii(self, ref) -> str:
        if ref.kind == "new":
            return self.name(ref).ascii()
        if ref.kind == "rate":
            return "eta"
        return super()._ascii(ref)


# NOTE: eq=False: a solution is one object (hashed by identity), so the renderers can cache its figures.
@dataclass(frozen=True, eq=False)
class LayeredSolution(GraphSolution):
    """A worked layered exercise: a GraphSolution whose circuit is a LayeredNetwork, named layer by layer."""

    @property
    def network(self) -> LayeredNetwork:
        """The exercise (the same object as ``circuit``)."""
        return self.circuit

    def tensor_values(self, tensor: Tensor, kind: str = "value", step: int = 0) -> list:
        """The values of a tensor's entries (``value``, ``grad`` or ``new``), row-major."""
        values = self.values[step]
        return [values[Ref(kind, name)] for name in tensor.names]


def solve_layered(network: LayeredNetwork, steps: int = 1, source: str = "",
                  precision: int | None = None) -> LayeredSolution:
    """Forward pass, backward pass and (with a learning rate) updates of ``network``, for ``steps`` steps.

    The update stage is the graph's (graph_solution.solve_circuit): every parameter is a named leaf.
    """
    solved = solve_circuit(network, steps, source, precision)
    return LayeredSolution(network, solved.derivation, solved.updates, solved.values, LayeredNotation(network),
                           solved.precision)
