# shellcheck shell=bash
# Helpers shared by the benchmark scripts (sourced, not run).

# "median min max" of the numbers on stdin ("- - -" when there are none).
stats() {
    sort -g | awk '{ v[NR] = $1 }
        END {
            if (NR == 0) { print "- - -"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.4g %.4g %.4g\n", m, v[1], v[NR]
        }'
}
