/*
 * TicketGuard native model extras, compiled into the same shared library as the tl2cgen-generated
 * predictor (header.h / main.c) and the generated tree tables (tg_trees.h / tg_trees.c).
 *
 *   tg_abi_version()                      bumps when a signature below changes
 *   tg_predict_batch(rows, n, ncol, pm, out, threads)  row-major float rows, NaN = missing, calls
 *                                         predict() on up to `threads` POSIX threads
 *   tg_contributions(entries, out)        exact path-dependent TreeSHAP (Lundberg et al. 2018, alg. 2)
 *                                         in margin space; out[n_feature] is the bias, like XGBoost's
 *                                         pred_contribs.
 *
 * No global mutable state: every scratch buffer lives on the caller's stack, so any number of threads
 * may call these functions at once.
 */
#include <pthread.h>
#include <unistd.h>

#include "header.h"
#include "tg_trees.h"

#define TG_ABI_VERSION 1

int32_t tg_abi_version(void) { return TG_ABI_VERSION; }

int32_t tg_max_depth(void) { return TG_MAX_DEPTH; }

int32_t tg_num_trees(void) { return TG_NUM_TREES; }

typedef struct {
  const float *rows;
  int64_t begin;
  int64_t end;
  int32_t pred_margin;
  float *out;
} BatchSlice;

static void predict_rows(const BatchSlice *slice) {
  union Entry entry[TG_NUM_FEATURE];
  for (int64_t r = slice->begin; r < slice->end; ++r) {
    const float *row = slice->rows + r * (int64_t)TG_NUM_FEATURE;
    for (int32_t j = 0; j < TG_NUM_FEATURE; ++j) {
      if (isnan(row[j])) {
        entry[j].missing = -1;
      } else {
        entry[j].fvalue = row[j];
      }
    }
    slice->out[r] = 0.0f; /* the generated predict() accumulates into its output */
    predict(entry, slice->pred_margin, &slice->out[r]);
  }
}

static void *batch_worker(void *arg) {
  predict_rows((const BatchSlice *)arg);
  return NULL;
}

#define TG_MAX_THREADS 64
#define TG_ROWS_PER_THREAD_MIN 2048

/* n_threads <= 0: one per online CPU. Small batches stay on the calling thread. */
int32_t tg_predict_batch(const float *rows, int64_t n_rows, int32_t n_cols, int32_t pred_margin,
                         float *out, int32_t n_threads) {
  if (n_cols != TG_NUM_FEATURE || n_rows < 0) {
    return -1;
  }
  if (n_threads <= 0) {
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    n_threads = cpus > 0 ? (int32_t)cpus : 1;
  }
  const int64_t useful = n_rows / TG_ROWS_PER_THREAD_MIN;
  if ((int64_t)n_threads > useful) {
    n_threads = useful > 1 ? (int32_t)useful : 1;
  }
  if (n_threads > TG_MAX_THREADS) {
    n_threads = TG_MAX_THREADS;
  }
  BatchSlice slices[TG_MAX_THREADS];
  pthread_t threads[TG_MAX_THREADS];
  int started[TG_MAX_THREADS];
  const int64_t per = (n_rows + n_threads - 1) / n_threads;
  for (int32_t t = 0; t < n_threads; ++t) {
    const int64_t begin = (int64_t)t * per;
    slices[t].rows = rows;
    slices[t].begin = begin < n_rows ? begin : n_rows;
    slices[t].end = begin + per < n_rows ? begin + per : n_rows;
    slices[t].pred_margin = pred_margin;
    slices[t].out = out;
    started[t] = 0;
  }
  for (int32_t t = 1; t < n_threads; ++t) {
    started[t] = pthread_create(&threads[t], NULL, batch_worker, &slices[t]) == 0;
    if (!started[t]) {
      predict_rows(&slices[t]); /* no thread available: do the slice here */
    }
  }
  predict_rows(&slices[0]);
  for (int32_t t = 1; t < n_threads; ++t) {
    if (started[t]) {
      pthread_join(threads[t], NULL);
    }
  }
  return 0;
}

/* ------------------------------------------------------------------------------------ TreeSHAP */

/* One element of the "unique path" from the root to the current node: the feature split on, the
 * fraction of cover-weighted paths that flow through when the feature is absent (zero) or present
 * (one), and the permutation weight of subsets of the given size. */
typedef struct {
  int32_t feature;
  double zero;
  double one;
  double weight;
} PathStep;

/* Every recursion level copies the parent's path (at most depth+1 steps) into fresh space. */
#define TG_PATH_CAPACITY (((TG_MAX_DEPTH) + 2) * ((TG_MAX_DEPTH) + 3) / 2)

static void path_extend(PathStep *path, int32_t len, double zero, double one, int32_t feature) {
  /* len = steps already on the path; the new step goes at index len. */
  path[len].feature = feature;
  path[len].zero = zero;
  path[len].one = one;
  path[len].weight = (len == 0) ? 1.0 : 0.0;
  for (int32_t i = len - 1; i >= 0; --i) {
    path[i + 1].weight += one * path[i].weight * (double)(i + 1) / (double)(len + 1);
    path[i].weight = zero * path[i].weight * (double)(len - i) / (double)(len + 1);
  }
}

/* Removes step k from a path whose last index is last, undoing its extension. */
static void path_unwind(PathStep *path, int32_t last, int32_t k) {
  const double one = path[k].one;
  const double zero = path[k].zero;
  double carried = path[last].weight;
  for (int32_t i = last - 1; i >= 0; --i) {
    if (one != 0.0) {
      const double previous = path[i].weight;
      path[i].weight = carried * (double)(last + 1) / ((double)(i + 1) * one);
      carried = previous - path[i].weight * zero * (double)(last - i) / (double)(last + 1);
    } else {
      path[i].weight = path[i].weight * (double)(last + 1) / (zero * (double)(last - i));
    }
  }
  for (int32_t i = k; i < last; ++i) {
    path[i].feature = path[i + 1].feature;
    path[i].zero = path[i + 1].zero;
    path[i].one = path[i + 1].one;
  }
}

/* Total permutation weight the path would have with step k unwound, without modifying it. */
static double path_unwound_weight(const PathStep *path, int32_t last, int32_t k) {
  const double one = path[k].one;
  const double zero = path[k].zero;
  double carried = path[last].weight;
  double total = 0.0;
  for (int32_t i = last - 1; i >= 0; --i) {
    if (one != 0.0) {
      const double w = carried * (double)(last + 1) / ((double)(i + 1) * one);
      total += w;
      carried = path[i].weight - w * zero * (double)(last - i) / (double)(last + 1);
    } else {
      total += path[i].weight * (double)(last + 1) / (zero * (double)(last - i));
    }
  }
  return total;
}

static int32_t goes_left(int32_t node, const union Entry *x) {
  const int32_t f = TG_SPLIT_FEATURE[node];
  if (x[f].missing == -1) {
    return TG_DEFAULT_LEFT[node];
  }
  return x[f].fvalue < TG_THRESHOLD[node];
}

static void shap_recurse(int32_t node, const union Entry *x, double *phi, PathStep *parent_path,
                         int32_t len, double zero, double one, int32_t feature) {
  PathStep *path = parent_path + len; /* this level's own copy, just after the parent's */
  for (int32_t i = 0; i < len; ++i) {
    path[i] = parent_path[i];
  }
  path_extend(path, len, zero, one, feature);
  const int32_t last = len;

  if (TG_LEFT[node] < 0) {
    const double leaf = (double)TG_LEAF_VALUE[node];
    for (int32_t i = 1; i <= last; ++i) {
      const double w = path_unwound_weight(path, last, i);
      phi[path[i].feature] += w * (path[i].one - path[i].zero) * leaf;
    }
    return;
  }

  const int32_t split = TG_SPLIT_FEATURE[node];
  const int32_t hot = goes_left(node, x) ? TG_LEFT[node] : TG_RIGHT[node];
  const int32_t cold = (hot == TG_LEFT[node]) ? TG_RIGHT[node] : TG_LEFT[node];
  const double cover = TG_COVER[node];
  const double hot_share = cover > 0.0 ? TG_COVER[hot] / cover : 0.0;
  const double cold_share = cover > 0.0 ? TG_COVER[cold] / cover : 0.0;

  /* A feature split on twice along the path counts once: fold the earlier step into this one. */
  double incoming_zero = 1.0;
  double incoming_one = 1.0;
  int32_t depth = last;
  for (int32_t k = 1; k <= last; ++k) {
    if (path[k].feature == split) {
      incoming_zero = path[k].zero;
      incoming_one = path[k].one;
      path_unwind(path, last, k);
      depth = last - 1;
      break;
    }
  }
  shap_recurse(hot, x, phi, path, depth + 1, hot_share * incoming_zero, incoming_one, split);
  shap_recurse(cold, x, phi, path, depth + 1, cold_share * incoming_zero, 0.0, split);
}

int32_t tg_contributions(const union Entry *x, double *out) {
  PathStep scratch[TG_PATH_CAPACITY];
  for (int32_t j = 0; j <= TG_NUM_FEATURE; ++j) {
    out[j] = 0.0;
  }
  out[TG_NUM_FEATURE] = TG_BASE_MARGIN;
  for (int32_t t = 0; t < TG_NUM_TREES; ++t) {
    const int32_t root = TG_TREE_ROOT[t];
    out[TG_NUM_FEATURE] += TG_TREE_EXPECTED[t];
    shap_recurse(root, x, out, scratch, 0, 1.0, 1.0, -1);
  }
  return 0;
}
