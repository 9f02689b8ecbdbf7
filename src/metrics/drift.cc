// Drift statistics with Evidently's definitions; sums and binning mirror numpy/scipy so that the
// numbers agree with Evidently's to the last few bits.
#include "metrics/drift.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <iterator>
#include <limits>
#include <numbers>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace lathe::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Evidently bins a numeric feature by value when its reference has at most this many distinct
// values (get_binned_data: `n_vals > 20` selects the histogram).
constexpr size_t kMaxDistinctForValueBins = 20;

// numpy's pairwise summation (np.sum / np.add.reduce on a contiguous float64 array): blocks of up
// to 128 summed with 8 interleaved accumulators, larger ranges split in halves at a multiple of 8.
// Reproducing the order makes PSI, Jensen-Shannon and std bit-identical to numpy's in most cases.
template <typename At>
double PairwiseSum(size_t begin, size_t n, const At& at) {
    if (n < 8) {
        double res = 0.0;
        for (size_t i = 0; i < n; ++i) {
            res += at(begin + i);
        }
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (size_t j = 0; j < 8; ++j) {
            r[j] = at(begin + j);
        }
        size_t i = 8;
        for (; i < n - n % 8; i += 8) {
            for (size_t j = 0; j < 8; ++j) {
                r[j] += at(begin + i + j);
            }
        }
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) {
            res += at(begin + i);
        }
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return PairwiseSum(begin, n2, at) + PairwiseSum(begin + n2, n - n2, at);
}

double PairwiseSum(const std::vector<double>& values) {
    return PairwiseSum(0, values.size(), [&](size_t i) { return values[i]; });
}

double Clip01(double p) {
    return std::clamp(p, 0.0, 1.0);
}

// ---- Kolmogorov distribution: a port of the method choice and algorithms of scipy 1.17's
// scipy/stats/_ksstats.py (Simard & L'Ecuyer 2011), plus the one-sided Smirnov tail. ----

constexpr double kTwo128 = 0x1p128;
constexpr double kTwoMinus128 = 0x1p-128;
constexpr double kPi = std::numbers::pi;

double LogFactorialOverPower(double n) {
    // log(n! / n^n) by Stirling's series with n*log(n) removed up front.
    static constexpr double kStirling[] = {-2.955065359477124183e-2,  6.4102564102564102564e-3,
                                           -1.9175269175269175269e-3, 8.4175084175084175084e-4,
                                           -5.952380952380952381e-4,  7.9365079365079365079e-4,
                                           -2.7777777777777777778e-3, 8.3333333333333333333e-2};
    double rn = 1.0 / n;
    double x = rn / n;
    double poly = 0.0;
    for (double c : kStirling) {
        poly = poly * x + c;
    }
    return std::log(n) / 2 - n + std::log(2 * kPi) / 2 + rn * poly;
}

using Matrix = std::vector<double>;  // row-major, m x m

Matrix MatMul(const Matrix& a, const Matrix& b, int m) {
    Matrix c(static_cast<size_t>(m) * m, 0.0);
    for (int i = 0; i < m; ++i) {
        for (int k = 0; k < m; ++k) {
            double aik = a[i * m + k];
            if (aik == 0.0) {
                continue;
            }
            for (int j = 0; j < m; ++j) {
                c[i * m + j] += aik * b[k * m + j];
            }
        }
    }
    return c;
}

// P(D_n <= d) by Durbin's matrix method as arranged by Marsaglia, Tsang & Wang (2003).
double KolmogorovCdfDurbin(int64_t n, double d) {
    if (d >= 1.0) {
        return 1.0;
    }
    double nd = static_cast<double>(n) * d;
    if (nd <= 0.5) {
        return 0.0;
    }
    int k = static_cast<int>(std::ceil(nd));
    double h = k - nd;
    int m = 2 * k - 1;

    std::vector<double> v(m);
    std::vector<double> w(m);
    double fac = 1.0;
    for (int j = 1; j <= m; ++j) {
        v[j - 1] = 1.0 - std::pow(h, j);
        w[j - 1] = fac;
        fac /= j;
        v[j - 1] *= fac;
    }
    double tt = std::pow(std::max(2 * h - 1.0, 0.0), m) - 2 * std::pow(h, m);
    v[m - 1] = (1.0 + tt) * fac;

    Matrix hm(static_cast<size_t>(m) * m, 0.0);
    for (int i = 1; i < m; ++i) {
        for (int r = 0; r <= m - i; ++r) {
            hm[(i - 1 + r) * m + i] = w[r];
        }
    }
    for (int r = 0; r < m; ++r) {
        hm[r * m] = v[r];
    }
    for (int c = 0; c < m; ++c) {
        hm[(m - 1) * m + c] = v[m - 1 - c];
    }

    Matrix power(static_cast<size_t>(m) * m, 0.0);
    for (int i = 0; i < m; ++i) {
        power[i * m + i] = 1.0;
    }
    int64_t expnt = 0;
    int64_t h_expnt = 0;
    for (int64_t nn = n; nn > 0; nn /= 2) {
        if (nn % 2 != 0) {
            power = MatMul(power, hm, m);
            expnt += h_expnt;
        }
        if (nn / 2 == 0) {
            break;
        }
        hm = MatMul(hm, hm, m);
        h_expnt *= 2;
        if (std::abs(hm[(k - 1) * m + (k - 1)]) > kTwo128) {
            for (double& x : hm) {
                x /= kTwo128;
            }
            h_expnt += 128;
        }
    }

    // Multiply by n!/n^n, rescaling to stay clear of underflow.
    long double p = power[(k - 1) * m + (k - 1)];
    for (int64_t i = 1; i <= n; ++i) {
        p = static_cast<long double>(i) * p / static_cast<long double>(n);
        if (std::abs(p) < kTwoMinus128) {
            p *= kTwo128;
            expnt -= 128;
        }
    }
    if (expnt != 0) {
        p = std::ldexp(p, static_cast<int>(expnt));
    }
    return Clip01(static_cast<double>(p));
}

// Python slice bounds [start, stop) of a sequence of length `len`, negative indices wrapping.
std::pair<int64_t, int64_t> PySlice(int64_t start, int64_t stop, int64_t len) {
    auto norm = [len](int64_t i) {
        if (i < 0) {
            i += len;
        }
        return std::clamp<int64_t>(i, 0, len);
    };
    int64_t s = norm(start);
    int64_t e = norm(stop);
    return {s, std::max(s, e)};
}

std::pair<int64_t, int64_t> PomeranzBounds(
    int64_t i, int64_t n, int64_t ll, int64_t ceilf, int64_t roundf) {
    int64_t j1 = 0;
    int64_t j2 = 0;
    if (i == 0) {
        j1 = -ll - ceilf - 1;
        j2 = ll + ceilf - 1;
    } else {
        int64_t half = (i + 1) / 2;
        if ((i + 1) % 2 == 0) {
            if (half == n + 1) {
                j1 = n - ll - ceilf - 1;
                j2 = n + ll + ceilf - 1;
            } else {
                j1 = half - 1 - ll - roundf - 1;
                j2 = half + ll - 1 + ceilf - 1;
            }
        } else {
            j1 = half - 1 - ll - 1;
            j2 = half + ll + roundf - 1;
        }
    }
    return {std::max<int64_t>(j1 + 2, 0), std::min(j2, n)};
}

// P(D_n <= d) by the Pomeranz (1974) recursion.
double KolmogorovCdfPomeranz(int64_t n, double x) {
    double t = static_cast<double>(n) * x;
    auto ll = static_cast<int64_t>(std::floor(t));
    double f = t - static_cast<double>(ll);
    double g = std::min(f, 1.0 - f);
    int64_t ceilf = f > 0 ? 1 : 0;
    int64_t roundf = f > 0.5 ? 1 : 0;
    int64_t npwrs = 2 * (ll + 1);
    std::vector<double> gpower(npwrs);
    std::vector<double> twogpower(npwrs);
    std::vector<double> onem2gpower(npwrs);
    gpower[0] = twogpower[0] = onem2gpower[0] = 1.0;
    double nd = static_cast<double>(n);
    double g_over_n = g / nd;
    double two_g_over_n = 2 * g / nd;
    double one_minus_two_g_over_n = (1 - 2 * g) / nd;
    for (int64_t m = 1; m < npwrs; ++m) {
        gpower[m] = gpower[m - 1] * g_over_n / static_cast<double>(m);
        twogpower[m] = twogpower[m - 1] * two_g_over_n / static_cast<double>(m);
        onem2gpower[m] = onem2gpower[m - 1] * one_minus_two_g_over_n / static_cast<double>(m);
    }

    std::vector<double> v0(npwrs, 0.0);
    std::vector<double> v1(npwrs, 0.0);
    v1[0] = 1.0;
    int64_t v0s = 0;
    int64_t v1s = 0;
    int64_t expnt = 0;
    auto [j1, j2] = PomeranzBounds(0, n, ll, ceilf, roundf);
    std::vector<double> conv;
    for (int64_t i = 1; i < 2 * n + 2; ++i) {
        int64_t k1 = j1;
        std::swap(v0, v1);
        std::swap(v0s, v1s);
        std::fill(v1.begin(), v1.end(), 0.0);
        std::tie(j1, j2) = PomeranzBounds(i, n, ll, ceilf, roundf);
        const std::vector<double>& pwrs =
            (i == 1 || i == 2 * n + 1) ? gpower : (i % 2 != 0 ? twogpower : onem2gpower);
        int64_t ln2 = j2 - k1 + 1;
        if (ln2 <= 0) {
            continue;
        }
        auto [a_begin, a_end] = PySlice(k1 - v0s, k1 - v0s + ln2, npwrs);
        int64_t len_a = a_end - a_begin;
        int64_t len_b = std::min(ln2, npwrs);
        int64_t len_conv = len_a + len_b - 1;
        conv.assign(static_cast<size_t>(std::max<int64_t>(len_conv, 0)), 0.0);
        for (int64_t p = 0; p < len_a; ++p) {
            for (int64_t q = 0; q < len_b; ++q) {
                conv[p + q] += v0[a_begin + p] * pwrs[q];
            }
        }
        auto [c_begin, c_end] =
            PySlice(j1 - k1, j1 - k1 + (j2 - j1 + 1), static_cast<int64_t>(conv.size()));
        for (int64_t c = c_begin; c < c_end && c - c_begin < npwrs; ++c) {
            v1[c - c_begin] = conv[c];
        }
        double top = *std::max_element(v1.begin(), v1.end());
        if (0 < top && top < kTwoMinus128) {
            for (double& e : v1) {
                e *= kTwo128;
            }
            expnt -= 128;
        }
        v1s = v0s + j1 - k1;
    }
    int64_t at = n - v1s;
    if (at < 0) {
        at += npwrs;
    }
    long double ans = (at >= 0 && at < npwrs) ? v1[at] : 0.0L;
    for (int64_t m = 1; m <= n; ++m) {
        if (std::abs(ans) > kTwo128) {
            ans *= kTwoMinus128;
            expnt += 128;
        }
        ans *= static_cast<long double>(m);
    }
    if (expnt != 0) {
        ans = std::ldexp(ans, static_cast<int>(expnt));
    }
    return Clip01(static_cast<double>(ans));
}

// P(D_n <= d) by the Pelz-Good (1976) asymptotic series, accurate for large n.
double KolmogorovCdfPelzGood(int64_t n, double x) {
    if (x <= 0.0) {
        return 0.0;
    }
    if (x >= 1.0) {
        return 1.0;
    }
    const double pi2 = kPi * kPi;
    const double pi4 = pi2 * pi2;
    const double pi6 = pi2 * pi2 * pi2;
    const double sqrt_2pi = std::sqrt(2 * kPi);
    double nd = static_cast<double>(n);
    double z = std::sqrt(nd) * x;
    double z2 = z * z;
    double z3 = std::pow(z, 3);
    double z4 = std::pow(z, 4);
    double z6 = std::pow(z, 6);

    double qlog = -pi2 / 8 / z2;
    if (qlog < -708) {
        return 0.0;
    }
    double q = std::exp(qlog);

    double k1a = -z2;
    double k1b = pi2 / 4;
    double k2a = 6 * z6 + 2 * z4;
    double k2b = (2 * z4 - 5 * z2) * pi2 / 4;
    double k2c = pi4 * (1 - 2 * z2) / 16;
    double k3d = pi6 * (5 - 30 * z2) / 64;
    double k3c = pi4 * (-60 * z2 + 212 * z4) / 16;
    double k3b = pi2 * (135 * z4 - 96 * z6) / 4;
    double k3a = -30 * z6 - 90 * std::pow(z, 8);

    double kk[4] = {0, 0, 0, 0};
    auto maxk = static_cast<int64_t>(std::ceil(16 * z / kPi));
    for (int64_t k = maxk; k > 0; --k) {
        double m = static_cast<double>(2 * k - 1);
        double m2 = m * m;
        double m4 = std::pow(m, 4);
        double m6 = std::pow(m, 6);
        double qpower = std::pow(q, static_cast<double>(8 * k));
        double coeffs[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
                            k3a + k3b * m2 + k3c * m4 + k3d * m6};
        for (int i = 0; i < 4; ++i) {
            kk[i] = kk[i] * qpower + coeffs[i];
        }
    }
    const double divisors[4] = {z, 6 * z4, 72 * std::pow(z, 7), 6480 * std::pow(z, 10)};
    for (int i = 0; i < 4; ++i) {
        kk[i] = kk[i] * q * sqrt_2pi / divisors[i];
    }

    double q2 = std::exp(-pi2 / 2 / z2);
    double sqrt3z = std::sqrt(3.0) * z;
    std::vector<double> k2_terms;
    std::vector<double> k3_terms;
    for (int64_t k = maxk; k > 0; --k) {
        double ks = static_cast<double>(k);
        double ksq = static_cast<double>(k * k);
        double qp = std::pow(q2, ksq);
        double kspi = kPi * ks;
        k2_terms.push_back(ksq * qp);
        k3_terms.push_back((sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qp);
    }
    kk[2] += PairwiseSum(k2_terms) * (pi2 * sqrt_2pi / (-36 * z3));
    kk[3] += PairwiseSum(k3_terms) * (pi2 * sqrt_2pi / (216 * z6));
    double total = 0.0;
    for (int i = 0; i < 4; ++i) {
        total += kk[i] / std::pow(nd, i / 2.0);
    }
    return total;
}

// P(D+_n >= x) for the one-sided statistic (scipy.special.smirnov), by the Birnbaum-Tingey sum
// x * sum_{v=0}^{floor(n(1-x))} C(n,v) (1-x-v/n)^(n-v) (x+v/n)^(v-1). Terms are positive, so
// the sum is stable; each is formed in the log domain in long double (the binomial coefficient
// as mantissa and binary exponent), which keeps relative error near 1e-13 up to n ~ 1e6.
double SmirnovSf(int64_t n, double x) {
    if (!(n > 0 && x >= 0.0 && x <= 1.0)) {
        return kNaN;
    }
    if (n == 1) {
        return 1.0 - x;
    }
    if (x == 0.0) {
        return 1.0;
    }
    if (x == 1.0) {
        return 0.0;
    }
    double nd = static_cast<double>(n);
    // floor(n*x) exactly, from the rounding error of the product.
    double hi = nd * x;
    double lo = std::fma(nd, x, -hi);
    double nx_floor = std::floor(hi);
    double alpha = (hi - nx_floor) + lo;
    if (alpha < 0) {
        nx_floor -= 1;
        alpha += 1;
    } else if (alpha >= 1) {
        nx_floor += 1;
        alpha -= 1;
    }
    auto nxfl = static_cast<int64_t>(nx_floor);

    if (nxfl == 0 || (nxfl == 1 && alpha == 0)) {
        long double t = std::pow(1.0L + x, static_cast<long double>(n - 1));
        return Clip01(static_cast<double>(1.0L - x * t));
    }
    constexpr double kMinLog = -7.083964185322641e2;  // log(DBL_MIN)
    if (-2 * nd * x * x < kMinLog) {
        return 0.0;
    }
    if (nxfl >= n - 1) {
        return Clip01(static_cast<double>(std::pow(1.0L - x, static_cast<long double>(n))));
    }
    if (n > 1000000) {
        // Too many terms: the asymptotic p ~ exp(-(6nx+1)^2 / 18n) scipy switches to.
        double logp = -std::pow(6.0 * nd * x + 1, 2) / 18.0 / nd;
        if (logp < -std::numbers::ln2) {
            return Clip01(std::exp(logp));
        }
        return Clip01(1.0 - (-std::expm1(logp)));
    }

    const long double ln2 = std::numbers::ln2_v<long double>;
    const long double xl = x;
    const long double nl = static_cast<long double>(n);
    int64_t terms = n - nxfl;
    int64_t vmid = n / 2;
    long double c_mantissa = 0.5L;  // C(n, v) = c_mantissa * 2^c_exponent
    int64_t c_exponent = 1;
    long double sum = 0.0L;
    for (int64_t v = 0; v < terms; ++v) {
        long double vl = static_cast<long double>(v);
        long double remaining = (nl - vl) / nl - xl;  // 1 - x - v/n, > 0 up to rounding
        long double term = 0.0L;
        if (remaining > 0.0L) {
            term = std::exp(std::log(c_mantissa) + static_cast<long double>(c_exponent) * ln2 +
                            (nl - vl) * std::log(remaining) + (vl - 1) * std::log(vl / nl + xl));
        }
        sum += term;
        // Stop once the rest cannot move the sum (scipy's criterion).
        if (term != 0.0L) {
            if (4.0L * static_cast<long double>(terms - v) * term < DBL_EPSILON * sum &&
                v != terms - 1) {
                break;
            }
        } else if (v > vmid) {
            break;
        }
        int e = 0;
        c_mantissa = std::frexp(c_mantissa * ((nl - vl) / (vl + 1)), &e);
        c_exponent += e;
    }
    return Clip01(static_cast<double>(xl * sum));
}

// ---- Shared binning helpers ----

// Evidently's empty-bin replacement for PSI (get_binned_data with feel_zeroes=True).
void FillEmptyBins(std::vector<double>& shares) {
    double smallest = std::numeric_limits<double>::infinity();
    for (double s : shares) {
        if (s != 0.0) {
            smallest = std::min(smallest, s);
        }
    }
    double fill = smallest <= 0.0001 ? smallest / 1e6 : 0.0001;
    for (double& s : shares) {
        if (s == 0.0) {
            s = fill;
        }
    }
}

double Psi(std::vector<double> reference, std::vector<double> current) {
    FillEmptyBins(reference);
    FillEmptyBins(current);
    return PairwiseSum(0, reference.size(), [&](size_t i) {
        return (reference[i] - current[i]) * std::log(reference[i] / current[i]);
    });
}

// scipy.special.rel_entr.
double RelEntr(double x, double y) {
    if (std::isnan(x) || std::isnan(y)) {
        return kNaN;
    }
    if (x > 0 && y > 0) {
        return x * std::log(x / y);
    }
    if (x == 0 && y >= 0) {
        return 0.0;
    }
    return std::numeric_limits<double>::infinity();
}

// scipy.spatial.distance.jensenshannon(p, q) with base e.
double JensenShannon(const std::vector<double>& p_raw, const std::vector<double>& q_raw) {
    double p_total = PairwiseSum(p_raw);
    double q_total = PairwiseSum(q_raw);
    size_t n = p_raw.size();
    std::vector<double> p(n);
    std::vector<double> q(n);
    std::vector<double> m(n);
    for (size_t i = 0; i < n; ++i) {
        p[i] = p_raw[i] / p_total;
        q[i] = q_raw[i] / q_total;
        m[i] = (p[i] + q[i]) / 2.0;
    }
    double left = PairwiseSum(0, n, [&](size_t i) { return RelEntr(p[i], m[i]); });
    double right = PairwiseSum(0, n, [&](size_t i) { return RelEntr(q[i], m[i]); });
    return std::sqrt((left + right) / 2.0);
}

std::vector<double> Shares(const std::vector<size_t>& counts, size_t total) {
    std::vector<double> shares(counts.size());
    for (size_t i = 0; i < counts.size(); ++i) {
        shares[i] = static_cast<double>(counts[i]) / static_cast<double>(total);
    }
    return shares;
}

// numpy's np.std(x) (ddof=0): pairwise-summed mean, then pairwise-summed squared deviations.
double PopulationStd(const std::vector<double>& x) {
    double n = static_cast<double>(x.size());
    double mean = PairwiseSum(x) / n;
    double ss = PairwiseSum(0, x.size(), [&](size_t i) {
        double d = x[i] - mean;
        return d * d;
    });
    return std::sqrt(ss / n);
}

// Histogram counts of sorted `x` over increasing `edges` exactly as np.histogram(x, edges):
// searchsorted 'left' on every edge but the last, 'right' on the last.
std::vector<size_t> HistogramCounts(const std::vector<double>& x,
                                    const std::vector<double>& edges) {
    std::vector<size_t> cum(edges.size());
    for (size_t i = 0; i + 1 < edges.size(); ++i) {
        cum[i] = static_cast<size_t>(std::lower_bound(x.begin(), x.end(), edges[i]) - x.begin());
    }
    cum.back() =
        static_cast<size_t>(std::upper_bound(x.begin(), x.end(), edges.back()) - x.begin());
    std::vector<size_t> counts(edges.size() - 1);
    for (size_t i = 0; i + 1 < edges.size(); ++i) {
        counts[i] = cum[i + 1] - cum[i];
    }
    return counts;
}

// np.histogram_bin_edges(combined, bins="sturges") for the union of two sorted samples.
Result<std::vector<double>> SturgesEdges(const std::vector<double>& a,
                                         const std::vector<double>& b) {
    double first = std::min(a.front(), b.front());
    double last = std::max(a.back(), b.back());
    if (first == last) {
        first -= 0.5;
        last += 0.5;
    }
    double size = static_cast<double>(a.size() + b.size());
    double width =
        (std::max(a.back(), b.back()) - std::min(a.front(), b.front())) / (std::log2(size) + 1.0);
    int64_t bins = 1;
    if (width != 0.0) {
        bins = static_cast<int64_t>(std::ceil((last - first) / width));
    }
    std::vector<double> edges(static_cast<size_t>(bins) + 1);
    double step = (last - first) / static_cast<double>(bins);
    for (int64_t i = 0; i <= bins; ++i) {
        edges[i] = step == 0.0 ? static_cast<double>(i) / static_cast<double>(bins) * (last - first)
                               : static_cast<double>(i) * step;
        edges[i] += first;
    }
    edges.back() = last;
    for (size_t i = 0; i + 1 < edges.size(); ++i) {
        if (!(edges[i] < edges[i + 1])) {
            return MakeError(ErrorCode::kBadRequest,
                             "the feature's range is too narrow to bin for PSI");
        }
    }
    return edges;
}

size_t DistinctSorted(const std::vector<double>& sorted) {
    size_t distinct = 0;
    for (size_t i = 0; i < sorted.size(); ++i) {
        if (i == 0 || sorted[i] != sorted[i - 1]) {
            ++distinct;
        }
    }
    return distinct;
}

void DropNonFinite(std::vector<double>& x) {
    x.erase(std::remove_if(x.begin(), x.end(), [](double v) { return !std::isfinite(v); }),
            x.end());
}

}  // namespace

double KolmogorovSmirnovSf(int64_t n, double d) {
    if (n < 1 || std::isnan(d)) {
        return kNaN;
    }
    if (d >= 1.0) {
        return 0.0;
    }
    if (d <= 0.0) {
        return 1.0;
    }
    double nd = static_cast<double>(n);
    double t = nd * d;
    if (t <= 1.0) {
        // Ruben-Gambino: P(D_n <= d) = n!/n^n (2t - 1)^n for 1/2n <= d <= 1/n.
        if (t <= 0.5) {
            return 1.0;
        }
        double prob = 1.0;
        if (n <= 140) {
            for (int64_t i = 1; i <= n; ++i) {
                prob *= static_cast<double>(i) * (1.0 / nd) * (2 * t - 1);
            }
        } else {
            prob = std::exp(LogFactorialOverPower(nd) + nd * std::log(2 * t - 1));
        }
        return Clip01(1.0 - prob);
    }
    if (t >= nd - 1) {
        return Clip01(2 * std::pow(1.0 - d, nd));
    }
    if (d >= 0.5) {
        return Clip01(2 * SmirnovSf(n, d));
    }
    double nxsquared = t * d;
    if (n <= 140) {
        if (nxsquared <= 0.754693) {
            return Clip01(1.0 - KolmogorovCdfDurbin(n, d));
        }
        if (nxsquared <= 4) {
            return Clip01(1.0 - KolmogorovCdfPomeranz(n, d));
        }
        return Clip01(2 * SmirnovSf(n, d));
    }
    if (nxsquared >= 370.0) {
        return 0.0;
    }
    if (nxsquared >= 2.2) {
        return Clip01(2 * SmirnovSf(n, d));
    }
    double cdf = (n <= 100000 && nd * std::pow(d, 1.5) <= 1.4) ? KolmogorovCdfDurbin(n, d)
                                                               : KolmogorovCdfPelzGood(n, d);
    return Clip01(1.0 - Clip01(cdf));
}

Result<NumericDrift> NumericDriftOf(std::vector<double> reference,
                                    std::vector<double> current,
                                    const DriftThresholds& thresholds) {
    DropNonFinite(reference);
    DropNonFinite(current);
    if (reference.empty()) {
        return MakeError(ErrorCode::kBadRequest,
                         "the reference sample has no finite values to compare against");
    }
    if (current.empty()) {
        return MakeError(ErrorCode::kBadRequest,
                         "the current sample has no finite values to compare");
    }
    NumericDrift out;
    out.reference_count = reference.size();
    out.current_count = current.size();
    // Before sorting: numpy sums in input order, and the pairwise grouping depends on it.
    double reference_std = PopulationStd(reference);
    std::sort(reference.begin(), reference.end());
    std::sort(current.begin(), current.end());
    const size_t n1 = reference.size();
    const size_t n2 = current.size();
    const double n1d = static_cast<double>(n1);
    const double n2d = static_cast<double>(n2);

    // One merge pass over the distinct values of both samples gives the KS statistic (largest
    // CDF gap at a data point) and the Wasserstein-1 integral of |F_ref - F_cur| between points.
    double max_gap = -std::numeric_limits<double>::infinity();
    double min_gap = std::numeric_limits<double>::infinity();
    long double area = 0.0L;
    size_t i = 0;
    size_t j = 0;
    while (i < n1 || j < n2) {
        double x = (j >= n2 || (i < n1 && reference[i] <= current[j])) ? reference[i] : current[j];
        while (i < n1 && reference[i] <= x) {
            ++i;
        }
        while (j < n2 && current[j] <= x) {
            ++j;
        }
        double gap = static_cast<double>(i) / n1d - static_cast<double>(j) / n2d;
        max_gap = std::max(max_gap, gap);
        min_gap = std::min(min_gap, gap);
        if (i < n1 || j < n2) {
            double next =
                (j >= n2 || (i < n1 && reference[i] <= current[j])) ? reference[i] : current[j];
            area += static_cast<long double>(std::abs(gap) * (next - x));
        }
    }
    double min_s = std::clamp(-min_gap, 0.0, 1.0);
    out.ks_statistic = min_s > max_gap ? min_s : max_gap;
    // scipy's asymptotic two-sided p-value: the one-sample distribution at the effective size
    // round(m*n/(m+n)) (round half to even, as np.round). Two single values would give n = 0 and
    // a NaN in scipy; we use n >= 1 instead.
    double big = std::max(n1d, n2d);
    double small = std::min(n1d, n2d);
    double effective_n = std::nearbyint(big * small / (big + small));
    out.ks_p_value = Clip01(KolmogorovSmirnovSf(
        std::max<int64_t>(1, static_cast<int64_t>(effective_n)), out.ks_statistic));
    out.ks_drifted = out.ks_p_value <= thresholds.ks_p_value;

    out.wasserstein = static_cast<double>(area);
    out.wasserstein_normed = out.wasserstein / std::max(reference_std, 0.001);
    out.wasserstein_drifted = out.wasserstein_normed >= thresholds.wasserstein_normed;

    std::vector<size_t> reference_counts;
    std::vector<size_t> current_counts;
    if (DistinctSorted(reference) > kMaxDistinctForValueBins) {
        out.binning = NumericBinning::kSturgesHistogram;
        ASSIGN_OR_RETURN(out.bin_edges, SturgesEdges(reference, current));
        reference_counts = HistogramCounts(reference, out.bin_edges);
        current_counts = HistogramCounts(current, out.bin_edges);
    } else {
        out.binning = NumericBinning::kDistinctValues;
        std::merge(reference.begin(), reference.end(), current.begin(), current.end(),
                   std::back_inserter(out.bin_values));
        out.bin_values.erase(std::unique(out.bin_values.begin(), out.bin_values.end()),
                             out.bin_values.end());
        for (double value : out.bin_values) {
            auto [rb, re] = std::equal_range(reference.begin(), reference.end(), value);
            auto [cb, ce] = std::equal_range(current.begin(), current.end(), value);
            reference_counts.push_back(static_cast<size_t>(re - rb));
            current_counts.push_back(static_cast<size_t>(ce - cb));
        }
    }
    out.reference_shares = Shares(reference_counts, n1);
    out.current_shares = Shares(current_counts, n2);
    out.psi = Psi(out.reference_shares, out.current_shares);
    out.psi_drifted = out.psi >= thresholds.psi;
    out.jensen_shannon = JensenShannon(out.reference_shares, out.current_shares);
    out.jensen_shannon_drifted = out.jensen_shannon >= thresholds.jensen_shannon;
    return out;
}

Result<CategoricalDrift> CategoricalDriftOf(const std::vector<std::string>& reference,
                                            const std::vector<std::string>& current,
                                            const DriftThresholds& thresholds) {
    if (reference.empty()) {
        return MakeError(ErrorCode::kBadRequest,
                         "the reference sample is empty: nothing to compare against");
    }
    if (current.empty()) {
        return MakeError(ErrorCode::kBadRequest, "the current sample is empty: nothing to compare");
    }
    std::unordered_map<std::string_view, std::pair<size_t, size_t>> counts;
    for (const std::string& value : reference) {
        ++counts[value].first;
    }
    for (const std::string& value : current) {
        ++counts[value].second;
    }
    std::vector<std::pair<std::string_view, std::pair<size_t, size_t>>> sorted(counts.begin(),
                                                                               counts.end());
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });

    CategoricalDrift out;
    out.reference_count = reference.size();
    out.current_count = current.size();
    std::vector<size_t> reference_counts;
    std::vector<size_t> current_counts;
    for (const auto& [category, pair] : sorted) {
        reference_counts.push_back(pair.first);
        current_counts.push_back(pair.second);
    }
    std::vector<double> reference_shares = Shares(reference_counts, reference.size());
    std::vector<double> current_shares = Shares(current_counts, current.size());
    for (size_t k = 0; k < sorted.size(); ++k) {
        out.categories.push_back(
            {std::string(sorted[k].first), reference_shares[k], current_shares[k]});
    }
    out.psi = Psi(reference_shares, current_shares);
    out.psi_drifted = out.psi >= thresholds.psi;
    out.jensen_shannon = JensenShannon(reference_shares, current_shares);
    out.jensen_shannon_drifted = out.jensen_shannon >= thresholds.jensen_shannon;
    return out;
}

}  // namespace lathe::metrics
