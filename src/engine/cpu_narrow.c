/* The CPU block functions with 16 lanes instead of 64. A fit of one recording
 * simulates a population of 10-30 neurons per generation: in 64-lane blocks
 * most lanes would repeat a neighbour and be thrown away, in 16-lane blocks
 * few are, and the threads get several blocks to share. Results are the same
 * for either width (each lane computes its own neuron with the same code). */
#define NF_CPU_LANES 16
#define NF__CPU_TABLE nf__cpu_blocks_16
#include "cpu_blocks.h"
