/*
 * dist.h - data parallelism over Open MPI: rank, size, and the one
 * all-reduce of the flat gradient block per step.
 *
 * MPI is initialised only when the process was started by mpirun (Open MPI
 * sets OMPI_COMM_WORLD_SIZE), so the plain binary runs without an MPI
 * runtime and without its start-up cost.  Otherwise rank 0 of 1, and every
 * call is a no-op.
 *
 * Invariants: every rank calls the same sequence of collectives (the trainer
 * guarantees it: all ranks read the same packed file and compute the same
 * batch schedule).  Only rank 0 writes files and logs.
 *
 * Errors: MPI failures abort the job (MPI_ERRORS_ARE_FATAL, the default);
 * there is nothing a caller could do.
 *
 *   Dist d; dist_init(&d, &argc, &argv);
 *   dist_allreduce_sum(&d, grad, nparams);
 *   dist_finalize(&d);
 */
#ifndef MISO_DIST_H
#define MISO_DIST_H

#include <stddef.h>

typedef struct {
    int rank, size;
    int active;     /* MPI initialised */
} Dist;

void dist_init(Dist *d, int *argc, char ***argv);
/* In-place sums over all ranks (float block; doubles). */
void dist_allreduce_sum(Dist *d, float *buf, size_t n);
void dist_allreduce_sum_f64(Dist *d, double *buf, int n);
void dist_barrier(Dist *d);
void dist_finalize(Dist *d);

#endif
