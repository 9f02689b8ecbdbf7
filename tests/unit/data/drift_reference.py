# Prints the reference numbers hard-coded in tests/unit/drift_test.cc, computed by Evidently's own
# stattest code and scipy.
#
# Run from the repository root, with the path of the Evidently wheel:
#   bench/.venv/bin/python tests/unit/data/drift_reference.py \
#       /tmp/evd/evidently-0.7.23-py3-none-any.whl
# and paste the output between the clang-format markers in drift_test.cc.
# The literals in drift_test.cc came from Evidently 0.7.23, scipy 1.17.1, numpy 2.4.6, pandas 3.1.1,
# Python 3.11. Evidently 0.7.23's package __init__ does not import under pandas 3, so this script
# executes the five stattest sources (utils, psi, jensenshannon, ks_stattest,
# wasserstein_distance_norm) straight from the wheel, with stand-ins for ColumnType and the
# stattest registry, which those functions only use for registration and type tags.
#
# Evidently orders categories by Python set order, which is hash-seeded, so the last digit of the
# categorical results can change from run to run (the test allows 1e-12 relative).
#
# The samples come from SplitMix64 and sums of uniforms (Irwin-Hall), arithmetic only, so the C++
# test regenerates bit-identical data without shipping the arrays.
import enum
import math
import os
import sys
import types
import zipfile

import numpy as np
import pandas as pd
import scipy
from scipy import stats

MASK = (1 << 64) - 1
STATTESTS = ["utils", "psi", "jensenshannon", "ks_stattest", "wasserstein_distance_norm"]


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) * 2.0**-53


def normalish(seed, n, loc, scale):
    """Irwin-Hall(12) - 6: mean 0, variance 1, close to a normal."""
    rng = SplitMix64(seed)
    out = []
    for _ in range(n):
        s = 0.0
        for _ in range(12):
            s += rng.uniform()
        s -= 6.0
        out.append(loc + scale * s)
    return out


def cubed(seed, n, loc, scale):
    """A heavy-tailed sample: the cube of normalish."""
    return [v * v * v for v in normalish(seed, n, loc, scale)]


def small_ints(seed, n, k):
    """Integers 0..k-1 as doubles."""
    rng = SplitMix64(seed)
    return [float(math.floor(rng.uniform() * k)) for _ in range(n)]


def load_evidently(wheel):
    """Executes Evidently's stattest modules from the wheel (or from an installed `evidently`
    package directory); returns them by short name."""

    class ColumnType(enum.Enum):
        Numerical = "num"
        Categorical = "cat"
        Text = "text"

    class StatTest:
        def __init__(self, **kwargs):
            self.__dict__.update(kwargs)

    def package(name):
        module = types.ModuleType(name)
        module.__path__ = []
        sys.modules[name] = module
        return module

    for name in [
        "evidently",
        "evidently.legacy",
        "evidently.legacy.calculations",
        "evidently.legacy.calculations.stattests",
    ]:
        package(name)
    core = types.ModuleType("evidently.legacy.core")
    core.ColumnType = ColumnType
    sys.modules[core.__name__] = core
    registry = types.ModuleType("evidently.legacy.calculations.stattests.registry")
    registry.StatTest = StatTest
    registry.register_stattest = lambda test, func: None
    sys.modules[registry.__name__] = registry

    modules = {}
    prefix = "evidently/legacy/calculations/stattests/"
    if str(wheel).endswith(".whl"):
        with zipfile.ZipFile(wheel) as wheel_zip:
            sources = {
                short: wheel_zip.read(prefix + short + ".py").decode()
                for short in STATTESTS
            }
    else:  # the installed package: <site-packages>/evidently
        base = os.path.join(os.path.dirname(str(wheel)), prefix)
        sources = {}
        for short in STATTESTS:
            with open(os.path.join(base, short + ".py")) as f:
                sources[short] = f.read()
    for short in STATTESTS:
        name = "evidently.legacy.calculations.stattests." + short
        module = types.ModuleType(name)
        sys.modules[name] = module
        exec(compile(sources[short], prefix + short + ".py", "exec"), module.__dict__)
        modules[short] = module
    modules["ColumnType"] = ColumnType
    return modules


def lit(x):
    x = float(x)
    assert math.isfinite(x), x
    return repr(x)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__ or "usage: drift_reference.py EVIDENTLY_WHEEL")
    ev = load_evidently(sys.argv[1])
    num = ev["ColumnType"].Numerical
    cat = ev["ColumnType"].Categorical
    print(f"// scipy {scipy.__version__}, numpy {np.__version__}, pandas {pd.__version__}")

    # scipy.stats.kstwo.sf on a grid that reaches every branch of scipy's _kolmogn.
    grid = [
        (1, 0.3), (1, 0.7), (2, 0.6), (3, 0.5), (5, 0.15), (5, 0.3), (5, 0.45), (5, 0.5),
        (5, 0.85), (50, 0.015), (50, 0.1), (50, 0.2), (50, 0.35), (50, 0.9), (140, 0.0065),
        (140, 0.05), (140, 0.1), (140, 0.2), (141, 0.005), (141, 0.03), (141, 0.09), (141, 0.13),
        (141, 0.6), (171, 0.12), (1000, 0.01), (1000, 0.02), (1000, 0.05), (1000, 0.3),
        (1000, 0.5), (10000, 0.002), (10000, 0.005), (10000, 0.02), (10000, 0.1), (10000, 0.15),
        (10000, 0.2), (100000, 0.0005), (100000, 0.002), (100000, 0.006), (100001, 0.0004),
        (500000, 0.001), (500000, 0.0025), (2000000, 0.0005), (2000000, 0.0012),
    ]
    print("constexpr KsSfCase kKsSfCases[] = {")
    for n, d in grid:
        print(f"    {{{n}, {lit(d)}, {lit(stats.kstwo.sf(d, n))}}},")
    print("};")

    numeric = {
        "shifted": (normalish(1, 400, 0.0, 1.0), normalish(2, 300, 0.3, 1.2)),
        "same_distribution": (normalish(3, 250, 0.0, 1.0), normalish(4, 200, 0.0, 1.0)),
        "discrete": (small_ints(5, 500, 10), small_ints(6, 350, 12)),
        "large": (normalish(7, 5000, 10.0, 2.0), normalish(8, 8000, 10.1, 2.0)),
        "heavy_tail": (cubed(9, 300, 0.0, 1.0), cubed(10, 256, 0.2, 1.0)),
    }
    print("constexpr NumericCase kNumericCases[] = {")
    for name, (ref, cur) in numeric.items():
        r, c = pd.Series(ref), pd.Series(cur)
        ks = stats.ks_2samp(ref, cur, method="asymp")
        wasserstein = stats.wasserstein_distance(ref, cur)
        wn, _ = ev["wasserstein_distance_norm"]._wasserstein_distance_norm(r, c, num, 0.1)
        psi, _ = ev["psi"]._psi(r, c, num, 0.1)
        js, _ = ev["jensenshannon"]._jensenshannon(r, c, num, 0.1)
        evidently_p, _ = ev["ks_stattest"]._ks_stat_test(r, c, num, 0.05)
        ref_p, _ = ev["utils"].get_binned_data(r, c, num, 30, False)
        print(f"    // Evidently's own KS p-value (ks_2samp method='auto'): {lit(evidently_p)}")
        print(f'    {{"{name}", {lit(ks.statistic)}, {lit(ks.pvalue)}, {lit(wasserstein)},')
        print(f"     {lit(wn)}, {lit(psi)}, {lit(js)}, {len(ref_p)}}},")
    print("};")

    categorical = {
        "unseen_categories": (
            {"a": 50, "b": 80, "c": 100, "d": 60, "e": 10},
            {"b": 40, "c": 90, "d": 70, "e": 30, "f": 15, "g": 5},
        ),
        "many_categories": (
            {f"k{i}": i % 7 + 1 for i in range(200)},
            {f"k{i}": (i * 3) % 5 for i in range(50, 260) if (i * 3) % 5 != 0},
        ),
        "empty_string_category": ({"": 30, "x": 70}, {"": 60, "x": 40}),
    }
    print("constexpr CategoricalCase kCategoricalCases[] = {")
    for name, (ref_counts, cur_counts) in categorical.items():
        r = pd.Series([k for k, v in ref_counts.items() for _ in range(v)], dtype=object)
        c = pd.Series([k for k, v in cur_counts.items() for _ in range(v)], dtype=object)
        psi, _ = ev["psi"]._psi(r, c, cat, 0.1)
        js, _ = ev["jensenshannon"]._jensenshannon(r, c, cat, 0.1)
        print(f'    {{"{name}", {lit(psi)}, {lit(js)}}},')
    print("};")


if __name__ == "__main__":
    main()
