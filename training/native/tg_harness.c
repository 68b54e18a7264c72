/* Reads rows of feature values (whitespace separated, "nan" = missing) from stdin and prints, per row,
 * the probability from predict() then the TreeSHAP contributions and bias from tg_contributions().
 * Used to check a cross-compiled library under qemu-user without any Python on the target side. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

union Entry {
  int missing;
  float fvalue;
  int qvalue;
};

int32_t get_num_feature(void);
void predict(union Entry *data, int pred_margin, float *result);
int32_t tg_contributions(const union Entry *x, double *out);

int main(void) {
  const int32_t n = get_num_feature();
  union Entry *row = calloc((size_t)n, sizeof(union Entry));
  double *phi = calloc((size_t)n + 1, sizeof(double));
  char token[64];
  if (row == NULL || phi == NULL) {
    return 2;
  }
  for (;;) {
    for (int32_t j = 0; j < n; ++j) {
      if (scanf("%63s", token) != 1) {
        return j == 0 ? 0 : 3;
      }
      const float value = strtof(token, NULL);
      if (isnan(value)) {
        row[j].missing = -1;
      } else {
        row[j].fvalue = value;
      }
    }
    float probability = 0.0f;
    predict(row, 0, &probability);
    tg_contributions(row, phi);
    printf("%.9g", (double)probability);
    for (int32_t j = 0; j <= n; ++j) {
      printf(" %.17g", phi[j]);
    }
    printf("\n");
  }
}
