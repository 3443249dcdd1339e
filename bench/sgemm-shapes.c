/*
 * sgemm-shapes.c - what bounds miso-train's MFU on `mid` (seq 512, batch 4)
 * SFT: the sgemm rate, in process CPU time (so a busy shared machine costs
 * less than in wall time), of every GEMM shape of one training step, each
 * weighted by how many times a step runs it, and the predicted GEMM time of
 * the step; compare with the step's measured CPU time (perf stat -e
 * task-clock, difference of a 4-step and a 1-step run).  Run at one thread:
 *   cc -std=c11 -O2 -D_GNU_SOURCE -fopenmp -Ilib bench/sgemm-shapes.c build/libmiso.a \
 *      $(pkg-config --libs openblas) -lm -o sgemm-shapes && OMP_NUM_THREADS=1 ./sgemm-shapes
 * The shapes follow lib/train.c and lib/attention.c (output block in
 * 128-row blocks: counted as full 512x512 products here times 0.63).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "matmul.h"
#include "util.h"
static double cpu(void){struct timespec t;clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec*1e-9;}
typedef struct { const char *name; int ta, tb, M, N, K, lda, ldb, ldc; double count; } Sh;
int main(void){
  int L=8,T=2048,D=512,F=1408,V=32000,HD=64,t=512,QDs=512,KDs=256;
  double nh=8*4; /* (sample, head) pairs per layer */
  Sh sh[] = {
   {"fwd q/wo  NT 2048x512x512",0,1,T,512,512,512,512,512, 2.0*L},
   {"fwd k,v   NT 2048x256x512",0,1,T,256,512,512,512,256, 2.0*L},
   {"fwd gate/up NT 2048x1408x512",0,1,T,F,D,D,D,F, 2.0*L},
   {"fwd down  NT 2048x512x1408",0,1,T,D,F,F,F,D, 1.0*L},
   {"bwd dx down NN 2048x1408x512",0,0,T,F,D,D,F,F, 1.0*L},
   {"bwd dx gate/up NN 2048x512x1408",0,0,T,D,F,F,D,D, 2.0*L},
   {"bwd dx q/wo NN 2048x512x512",0,0,T,512,512,512,512,512, 2.0*L},
   {"bwd dx k,v NN 2048x512x256",0,0,T,512,256,256,512,512, 2.0*L},
   {"bwd dw down TN 512x1408x2048",1,0,D,F,T,D,F,F, 1.0*L},
   {"bwd dw gate/up TN 1408x512x2048",1,0,F,D,T,F,D,D, 2.0*L},
   {"bwd dw q/wo TN 512x512x2048",1,0,512,512,T,512,512,512, 2.0*L},
   {"bwd dw k,v TN 256x512x2048",1,0,256,512,T,256,512,512, 2.0*L},
   {"attn S/dP NT 512x512x64 (strided)",0,1,t,t,HD,QDs,KDs,t, 0.63*3.0*L*nh},
   {"attn PV/dQ NN 512x64x512 (strided)",0,0,t,HD,t,t,KDs,QDs, 0.63*2.0*L*nh},
   {"attn dV/dK TN 512x64x512 (strided)",1,0,t,HD,t,t,QDs,KDs, 0.63*2.0*L*nh},
   {"head fwd NT 500x32000x512",0,1,500,V,D,D,D,V, 2044/500.0},
   {"head dx NN 500x512x32000",0,0,500,D,V,V,D,D, 2044/500.0},
   {"head dw TN 32000x512x500",1,0,V,D,500,V,D,D, 2044/500.0},
   {"square NT 1024^3",0,1,1024,1024,1024,1024,1024,1024, 0},
   {"square NT 2048^3",0,1,2048,2048,2048,2048,2048,2048, 0},
  };
  size_t big = (size_t)32000*2048; float *A=xmalloc(4*big),*B=xmalloc(4*big),*C=xmalloc(4*big);
  for(size_t i=0;i<big;i++){A[i]=(float)(i%7)*0.1f;B[i]=(float)(i%5)*0.1f;C[i]=0;}
  double tot_f=0, tot_t=0;
  for(size_t s=0;s<sizeof sh/sizeof sh[0];s++){ Sh *h=&sh[s]; double fl=2.0*h->M*h->N*h->K;
    matmul_gemm(h->ta,h->tb,h->M,h->N,h->K,1.0f,A,h->lda,B,h->ldb,1.0f,C,h->ldc);
    int reps=0; double t0=cpu(), el;
    do { matmul_gemm(h->ta,h->tb,h->M,h->N,h->K,1.0f,A,h->lda,B,h->ldb,1.0f,C,h->ldc); reps++; el=cpu()-t0; } while(el<0.4);
    double g=fl*reps/el/1e9;
    printf("%-38s %7.1f GFLOP/s  x %6.1f per step\n", h->name, g, h->count);
    if(h->count>0){ tot_f+=fl*h->count; tot_t+=fl*h->count/(g*1e9);} fflush(stdout);
  }
  printf("step GEMM flops %.1f G, predicted GEMM CPU time %.2f s, mean rate %.1f GFLOP/s\n", tot_f/1e9, tot_t, tot_f/tot_t/1e9);
  return 0; }
