/* Writes small NWB seed files for fuzz_nwb (with the tests' NWB writer):
 * two sweeps with stimulus via starting_time/rate, and one with timestamps.
 * usage: nwb_seed DIR */
#include "../tests/nwb_write.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    char path[512];
    float v[64], i[64];
    for (int k = 0; k < 64; k++) v[k] = -70.0f + (float)k * 0.1f, i[k] = (k > 10 && k < 50) ? 100.0f : 0.0f;
    snprintf(path, sizeof path, "%s/rate.nwb", argv[1]);
    hid_t f = nwbw_create(path);
    nwbw_series(f, "/acquisition", "cc0", "CurrentClampSeries", "volts", v, 64, 1e-3, 0, 0, 10000, NULL, 0);
    nwbw_series(f, "/acquisition", "cc1", "CurrentClampSeries", "volts", v, 64, 1e-3, 0, 1, 10000, NULL, 1);
    nwbw_series(f, "/stimulus/presentation", "st0", "CurrentClampStimulusSeries", "amperes", i, 64, 1e-12, 0, 0,
                10000, NULL, 0);
    nwbw_series(f, "/stimulus/presentation", "st1", "CurrentClampStimulusSeries", "amperes", i, 64, 1e-12, 0, 1,
                10000, NULL, 1);
    H5Fclose(f);
    double ts[64];
    for (int k = 0; k < 64; k++) ts[k] = 1e-4 * k;
    snprintf(path, sizeof path, "%s/timestamps.nwb", argv[1]);
    f = nwbw_create(path);
    nwbw_series(f, "/acquisition", "cc", "CurrentClampSeries", "volts", v, 64, 1e-3, 0, 0, 0, ts, -1);
    H5Fclose(f);
    return 0;
}
