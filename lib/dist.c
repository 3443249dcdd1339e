/*
 * dist.c - Open MPI data parallelism (dist.h).  The gradient block is summed
 * in place with MPI_Allreduce, in chunks of at most 2^30 floats because MPI
 * counts are ints.  For the mid preset (56 M floats, 225 MB) over shared
 * memory that is ~0.1 s per step; per-layer MPI_Iallreduce overlapped with
 * the backward (trainer-notes §1.2) would hide it.
 * NEEDSWORK: overlap the reduction with the backward on real clusters.
 */
#include "dist.h"

#include <mpi.h>
#include <stdlib.h>

void dist_init(Dist *d, int *argc, char ***argv)
{
    d->rank = 0, d->size = 1, d->active = 0;
    if (!getenv("OMPI_COMM_WORLD_SIZE"))
        return;
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    d->active = 1;
}

void dist_allreduce_sum(Dist *d, float *buf, size_t n)
{
    if (!d->active || d->size == 1)
        return;
    const size_t CH = (size_t)1 << 30;
    for (size_t off = 0; off < n; off += CH) {
        size_t k = n - off < CH ? n - off : CH;
        MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
}

void dist_allreduce_sum_f64(Dist *d, double *buf, int n)
{
    if (!d->active || d->size == 1)
        return;
    MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

void dist_barrier(Dist *d)
{
    if (d->active)
        MPI_Barrier(MPI_COMM_WORLD);
}

void dist_finalize(Dist *d)
{
    if (d->active)
        MPI_Finalize();
    d->active = 0;
}
