/*
 * 128-bit wasm SIMD kernels for what tfjs-wasm 4.22 runs slowly (see src/backend/simd-kernels.ts).
 *
 * bmm: batched float32 matrix product, for the products tfjs-wasm sends to its scalar loop:
 * anything batched or transposed (the attention products of every step).
 *
 * The module imports tfjs-wasm's own memory and works on tensors in place, so it must never
 * touch memory it was not given: no static data, no stack (every local stays in a wasm local),
 * no libc. scripts/build-wasm-kernels.sh builds it and checks both.
 *
 *   c[t] = op(a[t]) · op(b[t])   for t < batch; op(a) [n, k], op(b) [k, m], c [n, m] row-major
 *
 * op(a) is read through strides, so a transposed a costs nothing. The inner loop wants b's rows
 * contiguous and a whole number of vectors long, so a transposed b, or one whose width is not a
 * multiple of 4, is first copied into `scratch`, zero-padded (one item at a time).
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(name)))

/* the first `count` (< 4) lanes of v into c */
static inline void store_part(float* c, v128_t v, int count) {
  c[0] = wasm_f32x4_extract_lane(v, 0);
  if (count > 1) c[1] = wasm_f32x4_extract_lane(v, 1);
  if (count > 2) c[2] = wasm_f32x4_extract_lane(v, 2);
}

static inline void store(float* c, v128_t v, int count) {
  if (count >= 4) wasm_v128_store(c, v);
  else if (count > 0) store_part(c, v, count);
}

/*
 * Rows r0..r0+R-1 of c = a'·b, a'[i][p] = a[i*sai + p*sap]; b is [k, m] with row stride mp, a
 * multiple of 4 (columns m..mp-1 are readable padding), so every column block is whole vectors;
 * c has row stride ldc.
 */
#define ROW_BLOCK(R)                                                                         \
  static void rows##R(const float* a, int sai, int sap, const float* b, int mp, float* c,  \
                      int ldc, int r0, int k, int m) {                                       \
    int j = 0;                                                                               \
    for (; j + 8 <= mp; j += 8) {                                                            \
      v128_t lo[R], hi[R];                                                                   \
      for (int r = 0; r < R; r++) lo[r] = hi[r] = wasm_f32x4_splat(0.f);                     \
      for (int p = 0; p < k; p++) {                                                          \
        const v128_t b0 = wasm_v128_load(b + p * mp + j);                                    \
        const v128_t b1 = wasm_v128_load(b + p * mp + j + 4);                                \
        for (int r = 0; r < R; r++) {                                                        \
          const v128_t s = wasm_f32x4_splat(a[(r0 + r) * sai + p * sap]);                    \
          lo[r] = wasm_f32x4_add(lo[r], wasm_f32x4_mul(s, b0));                              \
          hi[r] = wasm_f32x4_add(hi[r], wasm_f32x4_mul(s, b1));                              \
        }                                                                                    \
      }                                                                                      \
      for (int r = 0; r < R; r++) {                                                          \
        store(c + (r0 + r) * ldc + j, lo[r], m - j);                                         \
        store(c + (r0 + r) * ldc + j + 4, hi[r], m - j - 4);                                 \
      }                                                                                      \
    }                                                                                        \
    if (j < mp) {                                                                            \
      v128_t acc[R];                                                                         \
      for (int r = 0; r < R; r++) acc[r] = wasm_f32x4_splat(0.f);                            \
      for (int p = 0; p < k; p++) {                                                          \
        const v128_t b0 = wasm_v128_load(b + p * mp + j);                                    \
        for (int r = 0; r < R; r++)                                                          \
          acc[r] = wasm_f32x4_add(acc[r],                                                    \
                                  wasm_f32x4_mul(wasm_f32x4_splat(a[(r0 + r) * sai + p * sap]), b0)); \
      }                                                                                      \
      for (int r = 0; r < R; r++) store(c + (r0 + r) * ldc + j, acc[r], m - j);              \
    }                                                                                        \
  }

ROW_BLOCK(4)
ROW_BLOCK(1)

/* c [n, m] (row stride ldc) = a'·b, a' read through strides, b [k, m] with row stride mp */
static void gemm(const float* a, int sai, int sap, const float* b, int mp, float* c, int ldc, int n,
                 int k, int m) {
  int i = 0;
  for (; i + 4 <= n; i += 4) rows4(a, sai, sap, b, mp, c, ldc, i, k, m);
  for (; i < n; i++) rows1(a, sai, sap, b, mp, c, ldc, i, k, m);
}

/* dst [rows, cols_p] ← src (rows × cols, element (r, j) at src[r*sr + j*sj]), zero-padded to cols_p */
static void pack(float* dst, const float* src, int rows, int cols, int sr, int sj, int cols_p) {
  for (int r = 0; r < rows; r++) {
    float* row = dst + r * cols_p;
    for (int j = 0; j < cols; j++) row[j] = src[r * sr + j * sj];
    for (int j = cols; j < cols_p; j++) row[j] = 0.f;
  }
}

/* scratch holds one item of b laid out [k, mp] (4·k·mp bytes), unless b needs no copy */
EXPORT("bmm")
void bmm(const float* a, const float* b, float* c, float* scratch, int batch, int n, int k, int m,
         int transpose_a, int transpose_b) {
  /* a stored [n, k], or [k, n] when transposed */
  const int sai = transpose_a ? 1 : k;
  const int sap = transpose_a ? n : 1;
  /* b is used in place when its rows are contiguous and whole vectors; else copied, zero-padded */
  const int copy = transpose_b || (m & 3);
  const int mp = (m + 3) & ~3;
  for (int t = 0; t < batch; t++) {
    const float* at = a + (long)t * n * k;
    const float* bt = b + (long)t * k * m;
    float* ct = c + (long)t * n * m;
    if (copy) {
      /* b stored [m, k] when transposed */
      if (transpose_b) pack(scratch, bt, k, m, 1, k, mp);
      else pack(scratch, bt, k, m, m, 1, mp);
      bt = scratch;
    }
    gemm(at, sai, sap, bt, mp, ct, m, n, k, m);
  }
}

/*
 * out[j] = sum over i of x[i][j], x [rows, cols] row-major: a sum over leading axes (bias and
 * LayerNorm gradients), which tfjs-wasm computes by transposing x first. Adds rows in order.
 */
EXPORT("colsum")
void colsum(const float* x, float* out, int rows, int cols) {
  int j = 0;
  for (; j + 16 <= cols; j += 16) {
    v128_t s0 = wasm_f32x4_splat(0.f), s1 = s0, s2 = s0, s3 = s0;
    for (int i = 0; i < rows; i++) {
      const float* row = x + (long)i * cols + j;
      s0 = wasm_f32x4_add(s0, wasm_v128_load(row));
      s1 = wasm_f32x4_add(s1, wasm_v128_load(row + 4));
      s2 = wasm_f32x4_add(s2, wasm_v128_load(row + 8));
      s3 = wasm_f32x4_add(s3, wasm_v128_load(row + 12));
    }
    wasm_v128_store(out + j, s0);
    wasm_v128_store(out + j + 4, s1);
    wasm_v128_store(out + j + 8, s2);
    wasm_v128_store(out + j + 12, s3);
  }
  for (; j + 4 <= cols; j += 4) {
    v128_t s = wasm_f32x4_splat(0.f);
    for (int i = 0; i < rows; i++) s = wasm_f32x4_add(s, wasm_v128_load(x + (long)i * cols + j));
    wasm_v128_store(out + j, s);
  }
  for (; j < cols; j++) {
    float s = 0.f;
    for (int i = 0; i < rows; i++) s += x[(long)i * cols + j];
    out[j] = s;
  }
}

static inline float hsum(v128_t v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) +
         wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}

/*
 * LayerNorm over the last axis of x [rows, dim], one pass per row instead of tfjs's nine kernels:
 * xhat = (x − mean)·rstd, rstd = 1/√(mean((x − mean)²) + eps), y = xhat·gamma + beta.
 * xhat and rstd are kept for the backward pass.
 */
EXPORT("layernorm")
void layernorm(const float* x, const float* gamma, const float* beta, float* y, float* xhat,
               float* rstd, int rows, int dim, float eps) {
  const int d4 = dim & ~3;
  for (int r = 0; r < rows; r++) {
    const float* xr = x + (long)r * dim;
    v128_t s = wasm_f32x4_splat(0.f);
    for (int j = 0; j < d4; j += 4) s = wasm_f32x4_add(s, wasm_v128_load(xr + j));
    float sum = hsum(s);
    for (int j = d4; j < dim; j++) sum += xr[j];
    const float mean = sum / dim;
    const v128_t mv = wasm_f32x4_splat(mean);
    v128_t q = wasm_f32x4_splat(0.f);
    for (int j = 0; j < d4; j += 4) {
      const v128_t c = wasm_f32x4_sub(wasm_v128_load(xr + j), mv);
      q = wasm_f32x4_add(q, wasm_f32x4_mul(c, c));
    }
    float sq = hsum(q);
    for (int j = d4; j < dim; j++) sq += (xr[j] - mean) * (xr[j] - mean);
    const float rs = 1.f / __builtin_sqrtf(sq / dim + eps);
    rstd[r] = rs;
    const v128_t rv = wasm_f32x4_splat(rs);
    float* hr = xhat + (long)r * dim;
    float* yr = y + (long)r * dim;
    for (int j = 0; j < d4; j += 4) {
      const v128_t h = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + j), mv), rv);
      wasm_v128_store(hr + j, h);
      wasm_v128_store(yr + j, wasm_f32x4_add(wasm_f32x4_mul(h, wasm_v128_load(gamma + j)), wasm_v128_load(beta + j)));
    }
    for (int j = d4; j < dim; j++) {
      hr[j] = (xr[j] - mean) * rs;
      yr[j] = hr[j] * gamma[j] + beta[j];
    }
  }
}

/*
 * Its backward: with g = dy·gamma, dx = rstd·(g − mean(g) − xhat·mean(g·xhat)),
 * dgamma = Σ_rows dy·xhat, dbeta = Σ_rows dy.
 */
EXPORT("layernorm_grad")
void layernorm_grad(const float* dy, const float* xhat, const float* rstd, const float* gamma,
                    float* dx, float* dgamma, float* dbeta, int rows, int dim) {
  const int d4 = dim & ~3;
  for (int j = 0; j < dim; j++) dgamma[j] = dbeta[j] = 0.f;
  for (int r = 0; r < rows; r++) {
    const float* dr = dy + (long)r * dim;
    const float* hr = xhat + (long)r * dim;
    v128_t sa = wasm_f32x4_splat(0.f), sb = sa;
    for (int j = 0; j < d4; j += 4) {
      const v128_t g = wasm_f32x4_mul(wasm_v128_load(dr + j), wasm_v128_load(gamma + j));
      sa = wasm_f32x4_add(sa, g);
      sb = wasm_f32x4_add(sb, wasm_f32x4_mul(g, wasm_v128_load(hr + j)));
    }
    float a = hsum(sa), b = hsum(sb);
    for (int j = d4; j < dim; j++) {
      const float g = dr[j] * gamma[j];
      a += g;
      b += g * hr[j];
    }
    a /= dim;
    b /= dim;
    const float rs = rstd[r];
    const v128_t av = wasm_f32x4_splat(a), bv = wasm_f32x4_splat(b), rv = wasm_f32x4_splat(rs);
    float* xr = dx + (long)r * dim;
    for (int j = 0; j < d4; j += 4) {
      const v128_t d = wasm_v128_load(dr + j), h = wasm_v128_load(hr + j);
      const v128_t g = wasm_f32x4_mul(d, wasm_v128_load(gamma + j));
      wasm_v128_store(xr + j, wasm_f32x4_mul(rv, wasm_f32x4_sub(wasm_f32x4_sub(g, av), wasm_f32x4_mul(h, bv))));
      wasm_v128_store(dgamma + j, wasm_f32x4_add(wasm_v128_load(dgamma + j), wasm_f32x4_mul(d, h)));
      wasm_v128_store(dbeta + j, wasm_f32x4_add(wasm_v128_load(dbeta + j), d));
    }
    for (int j = d4; j < dim; j++) {
      const float g = dr[j] * gamma[j];
      xr[j] = rs * (g - a - hr[j] * b);
      dgamma[j] += dr[j] * hr[j];
      dbeta[j] += dr[j];
    }
  }
}

/* e^x, 4 lanes: x = n·ln2 + r, |r| ≤ ln2/2, e^r by its degree-6 Taylor polynomial (error ~1e-7) */
static inline v128_t exp4(v128_t x) {
  x = wasm_f32x4_max(wasm_f32x4_min(x, wasm_f32x4_splat(88.f)), wasm_f32x4_splat(-87.f));
  const v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)));
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.f / 720);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.f / 120));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.f / 24));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.f / 6));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(0.5f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.f));
  const v128_t two_n = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(p, two_n);
}

#define GELU_C 0.7978845608028654f /* √(2/π) */
#define GELU_A 0.044715f

/* σ(2z), z = c(x + a·x³): GELU's tanh form is x·σ(2z), since 0.5(1 + tanh z) = σ(2z) */
static inline v128_t gelu_sigma(v128_t x) {
  const v128_t x2 = wasm_f32x4_mul(x, x);
  const v128_t z2 = wasm_f32x4_mul(x, wasm_f32x4_add(wasm_f32x4_mul(x2, wasm_f32x4_splat(2 * GELU_C * GELU_A)), wasm_f32x4_splat(2 * GELU_C)));
  const v128_t one = wasm_f32x4_splat(1.f);
  return wasm_f32x4_div(one, wasm_f32x4_add(one, exp4(wasm_f32x4_neg(z2))));
}

/* the first min(4, count) entries of p as a vector, zeros after */
static inline v128_t load_part(const float* p, int count) {
  if (count >= 4) return wasm_v128_load(p);
  return wasm_f32x4_make(p[0], count > 1 ? p[1] : 0.f, count > 2 ? p[2] : 0.f, 0.f);
}

/* GELU (tanh form) of n entries: y = x·σ(2z) */
EXPORT("gelu")
void gelu(const float* x, float* y, int n) {
  for (int i = 0; i < n; i += 4) {
    const v128_t v = load_part(x + i, n - i);
    store(y + i, wasm_f32x4_mul(v, gelu_sigma(v)), n - i);
  }
}

/* its backward: dx = dy·(σ + x·2σ(1 − σ)·z′), z′ = c(1 + 3a·x²) */
EXPORT("gelu_grad")
void gelu_grad(const float* x, const float* dy, float* dx, int n) {
  const v128_t one = wasm_f32x4_splat(1.f);
  for (int i = 0; i < n; i += 4) {
    const v128_t v = load_part(x + i, n - i);
    const v128_t s = gelu_sigma(v);
    const v128_t dz2 = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(v, v), wasm_f32x4_splat(2 * GELU_C * 3 * GELU_A)), wasm_f32x4_splat(2 * GELU_C));
    const v128_t d = wasm_f32x4_add(s, wasm_f32x4_mul(wasm_f32x4_mul(v, wasm_f32x4_mul(s, wasm_f32x4_sub(one, s))), dz2));
    store(dx + i, wasm_f32x4_mul(load_part(dy + i, n - i), d), n - i);
  }
}

/*
 * Softmax attention over the [batch, n, heads·d] layout of q, k, v, one kernel each way, so no
 * transposes to and from [batch·heads, n, d]: for each image b and head h, with X_bh the n × d
 * slice of X at columns h·d… of its rows,
 *   A_bh = softmax(Q_bh K_bhᵀ · scale) (kept in `a`, [batch, heads, n, n]), O_bh = A_bh V_bh.
 * q, k, v rows are ld_in floats apart (heads·d, or 3·heads·d when they are column ranges of one
 * qkv tensor); out rows ld_out apart. scratch: 4·max(d·round4(n), n·round4(d)) bytes.
 */
EXPORT("attention")
void attention(const float* q, const float* k, const float* v, float* out, float* a, float* scratch,
               int batch, int n, int heads, int d, float scale, int ld_in, int ld_out) {
  const int np = (n + 3) & ~3, dp = (d + 3) & ~3;
  for (int b = 0; b < batch; b++)
    for (int h = 0; h < heads; h++) {
      const long in = (long)b * n * ld_in + h * d, o = (long)b * n * ld_out + h * d;
      float* ab = a + ((long)b * heads + h) * n * n;
      /* S = Q Kᵀ: Kᵀ laid out [d, np] */
      pack(scratch, k + in, d, n, 1, ld_in, np);
      gemm(q + in, ld_in, 1, scratch, np, ab, n, n, d, n);
      for (int i = 0; i < n; i++) {
        float* row = ab + (long)i * n;
        float mx = row[0];
        for (int j = 1; j < n; j++) mx = row[j] > mx ? row[j] : mx;
        const v128_t sv = wasm_f32x4_splat(scale), mv = wasm_f32x4_splat(mx * scale);
        v128_t acc = wasm_f32x4_splat(0.f);
        for (int j = 0; j < n; j += 4) {
          const int count = n - j < 4 ? n - j : 4;
          const v128_t e = exp4(wasm_f32x4_sub(wasm_f32x4_mul(load_part(row + j, count), sv), mv));
          store(row + j, e, count);
          /* lanes past n hold exp of padding: not summed */
          acc = wasm_f32x4_add(acc, count == 4 ? e : load_part(row + j, count));
        }
        const v128_t inv = wasm_f32x4_splat(1.f / hsum(acc));
        for (int j = 0; j < n; j += 4) store(row + j, wasm_f32x4_mul(load_part(row + j, n - j), inv), n - j);
      }
      /* O = A V: V laid out [n, dp] */
      pack(scratch, v + in, n, d, ld_in, 1, dp);
      gemm(ab, n, 1, scratch, dp, out + o, ld_out, n, n, d);
    }
}

/*
 * Its backward, per image and head: dV = Aᵀ dO, dA = dO Vᵀ, dS = A ⊙ (dA − rowsum(dA ⊙ A))·scale,
 * dQ = dS K, dK = dSᵀ Q. dout rows ld_out apart; q, k, v, dq, dk, dv rows ld_in apart.
 * scratch: 4·(n·n + max(d·round4(n), n·round4(d))) bytes.
 */
EXPORT("attention_grad")
void attention_grad(const float* dout, const float* q, const float* k, const float* v, const float* a,
                    float* dq, float* dk, float* dv, float* scratch, int batch, int n, int heads, int d,
                    float scale, int ld_in, int ld_out) {
  const int np = (n + 3) & ~3, dp = (d + 3) & ~3;
  float* ds = scratch;
  float* packed = scratch + (long)n * n;
  for (int b = 0; b < batch; b++)
    for (int h = 0; h < heads; h++) {
      const long in = (long)b * n * ld_in + h * d, o = (long)b * n * ld_out + h * d;
      const float* ab = a + ((long)b * heads + h) * n * n;
      /* dV = Aᵀ dO */
      pack(packed, dout + o, n, d, ld_out, 1, dp);
      gemm(ab, 1, n, packed, dp, dv + in, ld_in, n, n, d);
      /* dA = dO Vᵀ, into ds */
      pack(packed, v + in, d, n, 1, ld_in, np);
      gemm(dout + o, ld_out, 1, packed, np, ds, n, n, d, n);
      for (int i = 0; i < n; i++) {
        float* row = ds + (long)i * n;
        const float* ar = ab + (long)i * n;
        v128_t acc = wasm_f32x4_splat(0.f);
        for (int j = 0; j < n; j += 4)
          acc = wasm_f32x4_add(acc, wasm_f32x4_mul(load_part(row + j, n - j), load_part(ar + j, n - j)));
        const v128_t dot = wasm_f32x4_splat(hsum(acc)), sv = wasm_f32x4_splat(scale);
        for (int j = 0; j < n; j += 4)
          store(row + j, wasm_f32x4_mul(wasm_f32x4_mul(load_part(ar + j, n - j), wasm_f32x4_sub(load_part(row + j, n - j), dot)), sv), n - j);
      }
      /* dQ = dS K */
      pack(packed, k + in, n, d, ld_in, 1, dp);
      gemm(ds, n, 1, packed, dp, dq + in, ld_in, n, n, d);
      /* dK = dSᵀ Q */
      pack(packed, q + in, n, d, ld_in, 1, dp);
      gemm(ds, 1, n, packed, dp, dk + in, ld_in, n, n, d);
    }
}

/*
 * Depthwise 3×3 convolution, stride 1, zero padding 1, with a bias (LPI's two convolutions), on
 * NHWC x [batch, h, w, c] and taps w [9, c] (tap r = 3·ky + kx), vectorised over channels:
 *   y[i][j] = bias + Σ_r w[r]·x[i + ky − 1][j + kx − 1]
 */
EXPORT("dwconv3x3")
void dwconv3x3(const float* x, const float* w, const float* bias, float* y, int batch, int h, int wd, int c) {
  for (int n = 0; n < batch; n++)
    for (int i = 0; i < h; i++)
      for (int j = 0; j < wd; j++) {
        float* out = y + ((n * h + i) * wd + j) * c;
        for (int ch = 0; ch < c; ch += 4) {
          v128_t acc = load_part(bias + ch, c - ch);
          for (int ky = 0; ky < 3; ky++) {
            const int yi = i + ky - 1;
            if (yi < 0 || yi >= h) continue;
            for (int kx = 0; kx < 3; kx++) {
              const int xj = j + kx - 1;
              if (xj < 0 || xj >= wd) continue;
              const v128_t xv = load_part(x + ((n * h + yi) * wd + xj) * c + ch, c - ch);
              acc = wasm_f32x4_add(acc, wasm_f32x4_mul(load_part(w + (3 * ky + kx) * c + ch, c - ch), xv));
            }
          }
          store(out + ch, acc, c - ch);
        }
      }
}

/*
 * Its backward from dy [batch, h, w, c], the input x and the taps w:
 *   dx[i][j] = Σ_r w[r]·dy[i − ky + 1][j − kx + 1]   (the taps flipped)
 *   dw[r] = Σ_{n,i,j} dy[i][j]·x[i + ky − 1][j + kx − 1],   db = Σ_{n,i,j} dy[i][j]
 * dw and db are summed in place over the pixels, in this order, so the result is deterministic.
 */
EXPORT("dwconv3x3_grad")
void dwconv3x3_grad(const float* dy, const float* x, const float* w, float* dx, float* dw, float* db,
                    int batch, int h, int wd, int c) {
  for (int p = 0; p < 9 * c; p++) dw[p] = 0.f;
  for (int p = 0; p < c; p++) db[p] = 0.f;
  for (int n = 0; n < batch; n++)
    for (int i = 0; i < h; i++)
      for (int j = 0; j < wd; j++) {
        const int pix = ((n * h + i) * wd + j) * c;
        for (int ch = 0; ch < c; ch += 4) {
          const int left = c - ch;
          const v128_t g = load_part(dy + pix + ch, left);
          store(db + ch, wasm_f32x4_add(load_part(db + ch, left), g), left);
          v128_t acc = wasm_f32x4_splat(0.f);
          for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
              const int r = 3 * ky + kx;
              const int gi = i - ky + 1, gj = j - kx + 1;
              if (gi >= 0 && gi < h && gj >= 0 && gj < wd) {
                const v128_t gv = load_part(dy + ((n * h + gi) * wd + gj) * c + ch, left);
                acc = wasm_f32x4_add(acc, wasm_f32x4_mul(load_part(w + r * c + ch, left), gv));
              }
              const int xi = i + ky - 1, xj = j + kx - 1;
              if (xi >= 0 && xi < h && xj >= 0 && xj < wd) {
                const v128_t xv = load_part(x + ((n * h + xi) * wd + xj) * c + ch, left);
                store(dw + r * c + ch, wasm_f32x4_add(load_part(dw + r * c + ch, left), wasm_f32x4_mul(g, xv)), left);
              }
            }
          store(dx + pix + ch, acc, left);
        }
      }
}

/*
 * The 3×3 patches of a zero-padded (1) convolution with stride s, on NHWC x [batch, h, w, c]:
 *   cols[n, oi, oj][r·c + ch] = x[n, oi·s + ky − 1, oj·s + kx − 1, ch]   (0 outside), r = 3·ky + kx
 * cols is [batch·ho·wo, 9·c]; the convolution is then one plain product with the filter.
 */
EXPORT("im2col3x3")
void im2col3x3(const float* x, float* cols, int batch, int h, int wd, int c, int stride, int ho, int wo) {
  for (int n = 0; n < batch; n++)
    for (int oi = 0; oi < ho; oi++)
      for (int oj = 0; oj < wo; oj++) {
        float* row = cols + ((n * ho + oi) * wo + oj) * 9 * c;
        for (int r = 0; r < 9; r++) {
          const int yi = oi * stride + r / 3 - 1, xj = oj * stride + r % 3 - 1;
          float* dst = row + r * c;
          if (yi < 0 || yi >= h || xj < 0 || xj >= wd) {
            for (int ch = 0; ch < c; ch++) dst[ch] = 0.f;
            continue;
          }
          const float* src = x + ((n * h + yi) * wd + xj) * c;
          int ch = 0;
          for (; ch + 4 <= c; ch += 4) wasm_v128_store(dst + ch, wasm_v128_load(src + ch));
          for (; ch < c; ch++) dst[ch] = src[ch];
        }
      }
}

/* its backward: dx[n, y, x, ch] = Σ of dcols over the patch entries that read it */
EXPORT("col2im3x3")
void col2im3x3(const float* dcols, float* dx, int batch, int h, int wd, int c, int stride, int ho, int wo) {
  for (int p = 0; p < batch * h * wd * c; p++) dx[p] = 0.f;
  for (int n = 0; n < batch; n++)
    for (int oi = 0; oi < ho; oi++)
      for (int oj = 0; oj < wo; oj++) {
        const float* row = dcols + ((n * ho + oi) * wo + oj) * 9 * c;
        for (int r = 0; r < 9; r++) {
          const int yi = oi * stride + r / 3 - 1, xj = oj * stride + r % 3 - 1;
          if (yi < 0 || yi >= h || xj < 0 || xj >= wd) continue;
          const float* src = row + r * c;
          float* dst = dx + ((n * h + yi) * wd + xj) * c;
          int ch = 0;
          for (; ch + 4 <= c; ch += 4) wasm_v128_store(dst + ch, wasm_f32x4_add(wasm_v128_load(dst + ch), wasm_v128_load(src + ch)));
          for (; ch < c; ch++) dst[ch] += src[ch];
        }
      }
}
