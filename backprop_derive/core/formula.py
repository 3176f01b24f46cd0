"""Parse a custom activation formula into a SymPy expression, by a whitelist over Python's ast."""

from __future__ import annotations

import ast
import operator
import re
import warnings
from collections.abc import Callable

import sympy

from .limits import MAX_FORMULA_BITS, MAX_FORMULA_DEPTH, MAX_FORMULA_EXPONENT, MAX_FORMULA_LENGTH

X = sympy.Symbol("x", real=True)
"""The one variable of every formula; import this symbol from here elsewhere."""

#: The bound on numbers in exponents, for the gates of a split formula (a constant exponent of a power gate).
MAX_EXPONENT = MAX_FORMULA_EXPONENT

_NAMES: dict[str, sympy.Expr] = {"x": X, "e": sympy.E, "pi": sympy.pi}

_FUNCTIONS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "exp": sympy.exp,
    "log": sympy.log,
    "sqrt": sympy.sqrt,
    "tanh": sympy.tanh,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "abs": sympy.Abs,
}

_ALLOWED = (
    "allowed: numbers, x, e, pi, + - * / **, parentheses, and one-argument calls of "
    + ", ".join(_FUNCTIONS)
)

#: The functions a graph's formulas may call besides those of activations, with their number of arguments.
GRAPH_FUNCTIONS: dict[str, tuple[Callable[..., sympy.Expr], int]] = {
    **{name: (function, 1) for name, function in _FUNCTIONS.items()},
    "sigmoid": (lambda argument: 1 / (1 + sympy.exp(-argument)), 1),
    "relu": (lambda argument: sympy.Max(0, argument), 1),
    "max": (sympy.Max, 2),
    "min": (sympy.Min, 2),
}

_BINARY_OPS: dict[type[ast.operator], Callable[[sympy.Expr, sympy.Expr], sympy.Expr]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}

_UNARY_OPS: dict[type[ast.unaryop], Callable[[sympy.Expr], sympy.Expr]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}

_REJECTED_OPS: dict[type[ast.AST], str] = {
    ast.BitXor: "'^' is not a power in Python; use ** (e.g. x**2)",
    ast.FloorDiv: "floor division '//' is not allowed",
    ast.Mod: "modulo '%' is not allowed",
    ast.MatMult: "matrix product '@' is not allowed",
    ast.LShift: "shift '<<' is not allowed",
    ast.RShift: "shift '>>' is not allowed",
    ast.BitOr: "bitwise '|' is not allowed",
    ast.BitAnd: "bitwise '&' is not allowed",
    ast.Not: "'not' is not allowed",
    ast.Invert: "bitwise '~' is not allowed",
}

_CONSTRUCTS: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscript",
    ast.Slice: "slice",
    ast.Lambda: "lambda",
    ast.ListComp: "list comprehension",
    ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension",
    ast.GeneratorExp: "generator expression",
    ast.Compare: "comparison",
    ast.BoolOp: "boolean operator",
    ast.IfExp: "conditional expression",
    ast.JoinedStr: "f-string",
    ast.FormattedValue: "f-string",
    ast.Starred: "starred argument",
    ast.NamedExpr: "assignment expression ':='",
    ast.List: "list",
    ast.Tuple: "tuple",
    ast.Set: "set",
    ast.Dict: "dict",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}

# A decimal literal with underscores removed: mantissa and optional exponent.
_DECIMAL = re.compile(r"(?P<mantissa>\d*\.?\d*)(?:[eE](?P<exponent>[+-]?\d+))?")


class FormulaError(ValueError):
    """A formula outside the whitelist; the message says what was found and what is allowed."""


def parse_formula(text: str) -> sympy.Expr:
    """Parse `text` (e.g. "x**3/3", "log(1 + exp(x))") into a SymPy expression in X.

    The text is parsed with ``ast.parse`` and the tree is translated node by node;
    only whitelisted nodes are accepted and nothing from the text is ever run.
    Decimals become exact rationals (0.1 is ``Rational(1, 10)``).

    Args:
        text: The formula, a Python-syntax arithmetic expression in ``x``.

    Returns:
        The SymPy expression, which contains the symbol ``X``.

    Raises:
        FormulaError: If the text is empty, too long, not valid syntax, uses
            anything outside the whitelist, has a number or exponent that is too
            large, is undefined (e.g. divides by zero), or does not use ``x``.
    """
    body, source = parse_tree(text)
    _check_depth(_written_depth(body))
    try:
        expr = _Translator(source).build(body)
    except RecursionError:
        raise FormulaError("formula is nested too deeply") from None
    if X not in expr.free_symbols:
        raise FormulaError(f"the formula must use x: {source!r} is constant")
    _check_depth(_depth(expr))
    return expr


def _check_depth(depth: int) -> None:
    if depth > MAX_FORMULA_DEPTH:
        raise FormulaError(f"the formula nests {depth} levels deep (counting x); a worked solution can show "
                           f"at most {MAX_FORMULA_DEPTH}")


#: Operators whose chains SymPy flattens into one sum or product: a + b - c is one level.
_CHAINED = ({ast.Add, ast.Sub}, {ast.Mult, ast.Div})


def _written_depth(node: ast.AST) -> int:
    """The depth of the formula as written, chains of + − and of × ÷ counting once, as in SymPy.

    Measured before the formula is translated, so that a tower of 160 powers is refused at once.
    """
    deepest, stack = 0, [(node, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.expr):
                continue
            same_chain = (isinstance(node, ast.BinOp) and isinstance(child, ast.BinOp) and child is node.left
                          and any(type(node.op) in chain and type(child.op) in chain for chain in _CHAINED))
            stack.append((child, depth if same_chain else depth + 1))
    return deepest


def _depth(expr: sympy.Expr) -> int:
    """How many levels the expression tree has: 1 for x, 3 for exp(exp(x)) and for 2*x + 1."""
    deepest, stack = 0, [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((argument, depth + 1) for argument in node.args)
    return deepest


def parse_tree(text: str) -> tuple[ast.expr, str]:
    """Parse a formula (``"x**3/3"``, a graph's ``"(x + y) * z"``) into its syntax tree, without translating it yet.

    Returns:
        The tree and the stripped source text (for quoting it in messages).

    Raises:
        FormulaError: the text is not a string, is too long or empty, or is not valid syntax.
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be a string, not {type(text).__name__}")
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(f"formula is {len(text)} characters long; at most {MAX_FORMULA_LENGTH} allowed")
    source = text.strip()
    if not source:
        raise FormulaError("formula is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return ast.parse(source, mode="eval").body, source
    except SyntaxError as err:
        raise FormulaError(f"not a formula: {err.msg}") from None
    except ValueError as err:
        raise FormulaError(f"not a formula: {err}") from None
    except (RecursionError, MemoryError):
        raise FormulaError("formula is nested too deeply") from None


def graph_expression(tree: ast.expr, source: str, names: dict[str, sympy.Symbol]) -> sympy.Expr:
    """Translate a graph formula's tree over ``names`` (inputs, parameters, earlier nodes) by the whitelist.

    Besides the functions of custom activations it may call sigmoid, relu, max and min (two arguments).

    Raises:
        FormulaError: as ``parse_formula``; an unknown name is named.
    """
    translator = _Translator(source, {"e": sympy.E, "pi": sympy.pi, **names}, GRAPH_FUNCTIONS)
    try:
        return translator.build(tree)
    except RecursionError:
        raise FormulaError("formula is nested too deeply") from None


#: Stand-ins for the operands of one operation checked on its own (see ``check_operation``).
_OPERANDS = tuple(sympy.Symbol(f"operand{index}") for index in range(8))


def check_operation(node: ast.expr, source: str) -> None:
    """Check one node of a graph formula against the whitelist, its operands standing in as plain symbols.

    NOTE: a formula split into gates is never built as one SymPy expression (SymPy's evaluation of a long
    formula costs milliseconds per operation); each operation is checked alone, by the same translator.

    Raises:
        FormulaError: the node is not allowed (an operator, a construct, a function or its arguments).
    """
    stand_ins = {f"_operand{index}": symbol for index, symbol in enumerate(_OPERANDS)}
    translator = _Translator(source, stand_ins, GRAPH_FUNCTIONS)

    def operand(child: ast.expr, index: int) -> ast.expr:
        return ast.copy_location(ast.Name(f"_operand{index}", ast.Load()), child)

    if isinstance(node, ast.BinOp):
        shallow = ast.BinOp(operand(node.left, 0), node.op, operand(node.right, 1))
    elif isinstance(node, ast.UnaryOp):
        shallow = ast.UnaryOp(node.op, operand(node.operand, 0))
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords and not any(
            isinstance(argument, ast.Starred) for argument in node.args) and len(node.args) <= len(_OPERANDS):
        shallow = ast.Call(node.func, [operand(argument, index) for index, argument in enumerate(node.args)], [])
    else:
        translator.build(node)  # NOTE: a leaf (a name, a number) or a construct the translator refuses
        return
    translator.build(ast.copy_location(shallow, node))


def constant_value(node: ast.expr, source: str) -> sympy.Expr:
    """The value of a formula's part that uses no name but e and pi (already checked by ``check_operation``)."""
    return _Translator(source, {"e": sympy.E, "pi": sympy.pi}, GRAPH_FUNCTIONS).build(node)


class _Translator:
    """Translate whitelisted ast nodes of one formula into SymPy expressions."""

    def __init__(self, source: str, names: dict[str, sympy.Expr] | None = None,
                 functions: dict[str, tuple[Callable[..., sympy.Expr], int]] | None = None) -> None:
        """Remember the source text, to read literals and quote snippets.

        Args:
            source: The (stripped) text that was parsed.
            names: The names allowed (default: x, e and pi, for an activation).
            functions: The functions allowed and their number of arguments (default: the activations').
        """
        self._source = source
        self._graph = names is not None
        self._names = _NAMES if names is None else names
        self._functions = functions or {name: (function, 1) for name, function in _FUNCTIONS.items()}
        self._handlers: dict[type[ast.AST], Callable[[ast.AST], sympy.Expr]] = {
            ast.Constant: self._constant,
            ast.Name: self._name,
            ast.BinOp: self._binop,
            ast.UnaryOp: self._unaryop,
            ast.Call: self._call,
        }

    def build(self, node: ast.AST) -> sympy.Expr:
        """Translate one node and check the result stays small and defined.

        Args:
            node: An expression node of the parsed formula.

        Returns:
            The SymPy expression for the node.

        Raises:
            FormulaError: If the node (or a child) is not allowed.
        """
        handler = self._handlers.get(type(node))
        if handler is None:
            construct = _CONSTRUCTS.get(type(node), type(node).__name__)
            raise FormulaError(f"{construct} {self._quote(node)} is not allowed; {_ALLOWED}")
        expr = handler(node)
        _check_result(expr, self._quote(node))
        return expr

    def _constant(self, node: ast.Constant) -> sympy.Expr:
        """Translate an int or decimal literal exactly; reject other literals."""
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "string" if isinstance(value, (str, bytes)) else type(value).__name__
            raise FormulaError(f"{kind} literal {self._quote(node)} is not allowed; {_ALLOWED}")
        if isinstance(value, int):
            return sympy.Integer(value)
        literal = (ast.get_source_segment(self._source, node) or repr(value)).replace("_", "")
        match = _DECIMAL.fullmatch(literal)
        if match is None:
            raise FormulaError(f"cannot read number {literal!r}")
        if match["exponent"] is not None and abs(int(match["exponent"])) > MAX_FORMULA_EXPONENT:
            raise FormulaError(
                f"number {literal!r} is too large or small; "
                f"its exponent must be within ±{MAX_FORMULA_EXPONENT}"
            )
        return sympy.Rational(literal)

    def _name(self, node: ast.Name) -> sympy.Expr:
        """Translate an allowed name (x, e or pi for an activation); reject any other name."""
        if node.id in self._names:
            return self._names[node.id]
        if node.id in self._functions:
            if self._graph:
                raise FormulaError(f"{node.id!r} is a function; call it, e.g. {node.id}(...)")
            raise FormulaError(
                f"{node.id!r} is a function; call it with one argument, e.g. {node.id}(x)"
            )
        if self._graph:
            raise FormulaError(f"unknown name {node.id!r}; a formula may use the inputs, the parameters, "
                               "the nodes before it, e and pi")
        raise FormulaError(f"unknown name {node.id!r}; the only names allowed are x, e and pi")

    def _binop(self, node: ast.BinOp) -> sympy.Expr:
        """Translate + - * / **; reject other binary operators."""
        op = type(node.op)
        if op in _REJECTED_OPS:
            raise FormulaError(f"{_REJECTED_OPS[op]} (in {self._quote(node)})")
        left, right = self.build(node.left), self.build(node.right)
        if op is ast.Div and right.is_zero:
            raise FormulaError(f"division by zero in {self._quote(node)}")
        if op is ast.Pow:
            _check_exponent(right, self._quote(node))
            _check_power_size(left, right, self._quote(node))
        return _BINARY_OPS[op](left, right)

    def _unaryop(self, node: ast.UnaryOp) -> sympy.Expr:
        """Translate unary + and -; reject 'not' and '~'."""
        if type(node.op) not in _UNARY_OPS:
            message = _REJECTED_OPS.get(
                type(node.op), f"operator {type(node.op).__name__} is not allowed"
            )
            raise FormulaError(f"{message} (in {self._quote(node)})")
        return _UNARY_OPS[type(node.op)](self.build(node.operand))

    def _call(self, node: ast.Call) -> sympy.Expr:
        """Translate a call of a whitelisted function with its number of positional arguments."""
        allowed = ", ".join(self._functions)
        if not isinstance(node.func, ast.Name):
            raise FormulaError(
                f"calling {self._quote(node.func)} is not allowed; only {allowed} may be called"
            )
        name = node.func.id
        if name not in self._functions:
            raise FormulaError(f"unknown function {name!r}; the allowed functions are {allowed}")
        if node.keywords:
            raise FormulaError(f"keyword arguments are not allowed, in {self._quote(node)}")
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            raise FormulaError(f"starred arguments are not allowed, in {self._quote(node)}")
        function, arity = self._functions[name]
        if len(node.args) != arity:
            hint = ""
            if name == "log":
                hint = " (the natural logarithm; write log(x)/log(2) for base 2)"
            count = "exactly one argument" if arity == 1 else f"exactly {arity} arguments"
            raise FormulaError(
                f"{name} takes {count}{hint}, "
                f"got {len(node.args)} in {self._quote(node)}"
            )
        arguments = [self.build(argument) for argument in node.args]
        if name == "exp":
            _check_exponent(arguments[0], self._quote(node))
        return function(*arguments)

    def _quote(self, node: ast.AST) -> str:
        """Return the node's source text, shortened to one line, in backticks."""
        snippet = ast.get_source_segment(self._source, node) or type(node).__name__
        snippet = " ".join(snippet.split())
        if len(snippet) > 40:
            snippet = snippet[:37] + "..."
        return f"`{snippet}`"


def _magnitude(number: sympy.Expr) -> float | None:
    """Return abs(number) as a float, or None if it is not a finite number.

    Args:
        number: A SymPy expression with ``is_number`` true.
    """
    value = sympy.N(number)
    if not value.is_number or value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        return None
    try:
        return abs(complex(value))
    except (TypeError, ValueError, OverflowError):
        return None


def _check_exponent(exponent: sympy.Expr, where: str) -> None:
    """Reject an exponent (of ** or exp) that is, or contains, a number beyond ±MAX_FORMULA_EXPONENT.

    Checking the numbers inside a symbolic exponent too matters because SymPy
    combines powers on its own: ``2**(x + N) * 2**(-x)`` becomes ``2**N``.

    Args:
        exponent: The exponent expression.
        where: The quoted source snippet, for the message.

    Raises:
        FormulaError: If the exponent is too large or undefined.
    """
    numbers = [exponent] if exponent.is_number else list(exponent.atoms(sympy.Rational))
    for number in numbers:
        magnitude = _magnitude(number)
        if magnitude is None:
            raise FormulaError(f"exponent in {where} is not a finite number")
        if magnitude > MAX_FORMULA_EXPONENT:
            raise FormulaError(
                f"exponent in {where} is too large: "
                f"numbers in exponents must be within ±{MAX_FORMULA_EXPONENT}"
            )


def _check_power_size(base: sympy.Expr, exponent: sympy.Expr, where: str) -> None:
    """Reject an exact rational power whose result would have too many digits.

    Args:
        base: The base of the power.
        exponent: The exponent, already known to be within ±MAX_FORMULA_EXPONENT if numeric.
        where: The quoted source snippet, for the message.

    Raises:
        FormulaError: If ``base**exponent`` would exceed MAX_FORMULA_BITS bits.
    """
    if base.is_Rational and exponent.is_Rational:
        bits = max(abs(base.p).bit_length(), base.q.bit_length())
        if bits * abs(exponent) > MAX_FORMULA_BITS:
            raise FormulaError(f"the number {where} is too large (over {MAX_FORMULA_BITS} bits)")


def _check_result(expr: sympy.Expr, where: str) -> None:
    """Reject an intermediate result that is undefined or holds oversized numbers.

    Runs after every node, so SymPy's own simplifications (which may merge
    powers and compute numbers) can never grow a number by more than one step.

    Args:
        expr: The expression just built.
        where: The quoted source snippet, for the message.

    Raises:
        FormulaError: If ``expr`` contains zoo, nan or an infinity, a number
            over MAX_FORMULA_BITS bits, or a power whose exponent is too large.
    """
    if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise FormulaError(f"{where} is undefined (e.g. division by zero or log(0))")
    for number in expr.atoms(sympy.Rational):
        if max(abs(number.p).bit_length(), number.q.bit_length()) > MAX_FORMULA_BITS:
            raise FormulaError(f"a number in {where} is too large (over {MAX_FORMULA_BITS} bits)")
    for power in expr.atoms(sympy.Pow, sympy.exp):
        _check_exponent(power.exp, where)
