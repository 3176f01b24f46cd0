"""Limits: every bound on the size of an input or a computed value, in one place.

Each bound keeps one run of any command within about 10 s and 1 GB, whatever the input the
spec's grammar accepts; passing one gives a line that names the limit, never a hang.
"""

#: Largest spec or answers file read, in bytes (YAML is parsed at about 1 MB/s).
MAX_FILE_BYTES = 2_000_000

#: Largest network worked through: weights and biases.
MAX_PARAMETERS = 20_000
#: Largest batch worked through: examples.
MAX_EXAMPLES = 1_000
#: Largest network worked through: neurons (every one a line or more of the solution).
MAX_NEURONS = 2_000
#: Most values one solution computes: (neurons + parameters) × examples × steps, about 10 µs each
#: to compute and more to print.
MAX_VALUES = 200_000

#: Computed values lie within 10^±MAX_VALUE_EXPONENT in size (or are 0); beyond, one clear line.
#: NOTE: SymPy and mpmath take time that grows with the digits of an exponent: 3**(10**10000)
#: runs for minutes, so each power and exponential is sized before it is computed.
MAX_VALUE_EXPONENT = 10_000
#: An exact value (a fraction) keeps at most this many digits in numerator and denominator
#: together; a longer one is carried as a Float of numbers.DIGITS digits instead.
MAX_EXACT_DIGITS = 1_000

#: A custom activation's formula nests at most this deep (exp(exp(x)) is 3: exp, exp, x); each
#: level multiplies the size of its derivative's printed form.
MAX_FORMULA_DEPTH = 12

#: A custom activation's derivative is looked for in its output (y(1 − y)) by solving y = f(x)
#: only while f has at most this many operations and no function inside a function: SymPy's
#: solve takes 20 s on tanh(tanh(x)) and does not end on tanh(tanh(tanh(tanh(x)))).
MAX_OPS_IN_OUTPUT_FORM = 12
MAX_FUNCTION_NESTING = 1

#: generate: most variants in one run, and most values all of them compute together.
MAX_VARIANTS = 1_000
MAX_GENERATED_VALUES = 200_000
