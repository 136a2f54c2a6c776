/* A minimal NWB 2.x writer for tests and fuzz seeds (header-only, libhdf5):
 * the groups, attributes and datasets the schema gives a current-clamp
 * recording (NWBFile root attributes, /acquisition/<name> CurrentClampSeries,
 * /stimulus/presentation/<name> CurrentClampStimulusSeries), nothing more. */
#ifndef NF_NWB_WRITE_H
#define NF_NWB_WRITE_H

#include <hdf5.h>
#include <string.h>

static void nwbw_attr_str(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(value) + 1);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, value);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

/* A variable-length string attribute (what pynwb writes). */
static void nwbw_attr_vstr(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, &value);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

static void nwbw_attr_num(hid_t obj, const char *name, hid_t type, double value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, &value);
    H5Aclose(a);
    H5Sclose(sp);
}

static hid_t nwbw_create(const char *path)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    nwbw_attr_vstr(f, "nwb_version", "2.6.0");
    nwbw_attr_vstr(f, "neurodata_type", "NWBFile");
    nwbw_attr_vstr(f, "namespace", "core");
    H5Gclose(H5Gcreate2(f, "/acquisition", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Gclose(H5Gcreate2(f, "/stimulus", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Gclose(H5Gcreate2(f, "/stimulus/presentation", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    return f;
}

/* One series: data [n] stored as float32 in `unit` with conversion/offset;
 * times from starting_time t0_s + rate_hz, or timestamps_s when not NULL.
 * sweep < 0: no sweep_number attribute. */
static void nwbw_series(hid_t f, const char *group, const char *name, const char *type, const char *unit,
                        const float *data, hsize_t n, double conversion, double offset, double t0_s,
                        double rate_hz, const double *timestamps_s, int sweep)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", group, name);
    hid_t g = H5Gcreate2(f, path, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    nwbw_attr_vstr(g, "neurodata_type", type);
    nwbw_attr_vstr(g, "namespace", "core");
    if (sweep >= 0) nwbw_attr_num(g, "sweep_number", H5T_STD_U32LE, sweep);
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(g, "data", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    nwbw_attr_num(d, "conversion", H5T_IEEE_F32LE, conversion);
    nwbw_attr_num(d, "offset", H5T_IEEE_F32LE, offset);
    nwbw_attr_num(d, "resolution", H5T_IEEE_F32LE, -1.0);
    nwbw_attr_str(d, "unit", unit);
    H5Dclose(d);
    if (timestamps_s) {
        d = H5Dcreate2(g, "timestamps", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, timestamps_s);
        nwbw_attr_num(d, "interval", H5T_STD_I32LE, 1);
        nwbw_attr_str(d, "unit", "seconds");
        H5Dclose(d);
    } else {
        hid_t s1 = H5Screate(H5S_SCALAR);
        d = H5Dcreate2(g, "starting_time", H5T_IEEE_F64LE, s1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &t0_s);
        nwbw_attr_num(d, "rate", H5T_IEEE_F32LE, rate_hz);
        nwbw_attr_str(d, "unit", "seconds");
        H5Dclose(d);
        H5Sclose(s1);
    }
    H5Sclose(sp);
    H5Gclose(g);
}

#endif
