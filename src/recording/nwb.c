/* NWB placeholder, replaced below */
#include "rec_internal.h"
nf_status nf__nwb_open(const char *path, const nf_recording_options *o, nf_recording **rec)
{
    (void)o;
    *rec = NULL;
    return nf__fail(NF_EUNSUPPORTED, "%s: NWB", path);
}
