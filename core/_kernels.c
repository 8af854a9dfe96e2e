/* Single-pass per-pixel kernels of the core (the optional C accelerator, core.compiled).
 *
 * recombine_lab: CIE L*a*b* -> clipped sRGB with the lightness correction of
 * Larsson et al. 2016, App. A.4 (desaturating toward the wanted gray where adding it
 * would leave [0, 1]). It computes what core.colorspaces.lab._recombine_lab
 * computes with about twenty OpenCV passes per block (same formulas and constants, in
 * float32 like it), here in blocks of 256 pixels whose loops the compiler vectorises
 * (an AVX2 clone is dispatched at run time where the CPU has it).
 * rgb_to_lab, rgb_to_lightness: sRGB -> CIE L*a*b* (or L* alone), what
 * core.colorspaces.lab._rgb_to_lab_step and _lightness_step compute with OpenCV, with
 * Newton iterations for the two powers (see there); an AVX-512 clone too.
 * quantize: float32 -> uint8/uint16 as core.io.quantize (clip, scale, round half to
 * even).
 *
 * The only approximation of recombine_lab is x^(1/2.4) of the sRGB encoding: a table
 * over the float32 bit pattern (exponent and 7 mantissa bits, 128 segments per octave of
 * [2^-9, 1]), interpolated linearly in x; relative error below 2e-6 (refined to float32
 * rounding for the two grays of the correction, encode_fine).
 * tests/test_kernels.py holds the kernels and the Python paths together.
 *
 * Built by setup.py as an optional extension: where no C compiler is available the
 * package installs without it and the OpenCV/numpy paths run. The kernels release the
 * GIL, so the core's strips run on several threads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* CIE L*a*b* (D65) and sRGB constants, as in core/colorspaces/lab.py. */
#define DELTA (6.0 / 29.0)
#define INV_KAPPA (3.0 * DELTA * DELTA)
#define LINEAR_KNEE 0.003130668442500588

/* The colour matrices come from core/colorspaces/lab.py with every call (its
 * _KERNEL_CONSTANTS): 9 values XYZ/white -> linear RGB, row by row, then the 3 values
 * of linear RGB -> Y. */
#define CONSTANTS 12

/* Pixels per block: the structure-of-arrays buffers stay in L1. */
#define BLOCK 256

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/* The forward Lab kernels also get an AVX-512 clone (x86-64-v4, GCC 12 and later): their
 * long chains of multiplies keep more values in its 32 registers, about 1.7x faster on
 * a CPU that has it. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    __GNUC__ >= 12
#define FORWARD_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define FORWARD_CLONES VECTOR_CLONES
#endif

/* Clip to [0, 1]; NaN becomes 0, so the table index of encode() stays in range. */
static inline float clip01(float x) { return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; }

/* x^(1/2.4) on [2^-9, 2): entry k at the float whose top 16 bits are POW_TOP0 + k
 * (exponent and 7 mantissa bits: 128 segments per octave), interpolated linearly in x
 * within a segment; the relative error is below 2e-6. */
#define POW_TOP0 ((uint32_t)(127 - 9) << 7)
#define POW_SIZE (10 * 128 + 2)
static float POW_TABLE[POW_SIZE];

static void init_pow_table(void) {
    int k;
    for (k = 0; k < POW_SIZE; k++) {
        const uint32_t bits = (POW_TOP0 + (uint32_t)k) << 16;
        float x;
        memcpy(&x, &bits, sizeof x);
        POW_TABLE[k] = (float)pow((double)x, 1.0 / 2.4);
    }
}

/* sRGB encoding of linear x in [0, 1] (branch-free, so loops over it vectorise). */
static inline float encode(float x) {
    const float v = x > 0.003f ? x : 0.003f; /* the table's range; the line is used there */
    uint32_t bits, k;
    float lo, frac, power;
    memcpy(&bits, &v, sizeof bits);
    k = (bits >> 16) - POW_TOP0;
    lo = POW_TABLE[k];
    frac = (float)(bits & 0xffffu) * (1.0f / 65536.0f);
    power = lo + frac * (POW_TABLE[k + 1] - lo);
    return x <= (float)LINEAR_KNEE ? 12.92f * x : 1.055f * power - 0.055f;
}

/* encode() refined by one Newton step on p^12 = x^5 (p = x^(1/2.4)) to float32 rounding,
 * for the two grays of the App. A.4 correction: its desaturation amplifies their errors. */
static inline float encode_fine(float x) {
    const float v = x > 0.003f ? x : 0.003f, e = encode(v);
    const float p = (e + 0.055f) * (float)(1.0 / 1.055), p2 = p * p, p4 = p2 * p2, v2 = v * v;
    const float q = p * (float)(11.0 / 12.0) + v2 * v2 * v / (12.0f * (p4 * p4 * p2 * p));
    return x <= (float)LINEAR_KNEE ? 12.92f * x : 1.055f * q - 0.055f;
}

/* f^-1 of CIE L*a*b*: t^3 above delta, the line below. */
static inline float lab_finv(float t) {
    return t > (float)DELTA ? t * t * t : (t - (float)(4.0 / 29.0)) * (float)INV_KAPPA;
}

/* One block of at most BLOCK pixels: Lab -> linear RGB, clip, encode (vectorised
 * loops over structure-of-arrays buffers), then the App. A.4 correction of the
 * pixels the clip changed (a gray's L* depends on its luminance alone, so the gray
 * wanted and the gray of the clipped colour are sRGB encodings of a Y). */
VECTOR_CLONES
static void recombine_lab_block(const float *light, const float *ab, const float *gray,
                                const float *m, float *out, int n) {
    float rgb[3][BLOCK], enc[3][BLOCK], y0[BLOCK], y1[BLOCK], target[BLOCK], achieved[BLOCK];
    int clipped[BLOCK], index[BLOCK];
    const float m00 = m[0], m01 = m[1], m02 = m[2], m10 = m[3], m11 = m[4], m12 = m[5];
    const float m20 = m[6], m21 = m[7], m22 = m[8], l0 = m[9], l1 = m[10], l2 = m[11];
    int i, j, c, k = 0, any = 0;
    for (i = 0; i < n; i++) {
        const float fy = (light[i] + 16.0f) * (1.0f / 116.0f);
        const float x = lab_finv(fy + ab[2 * i] * (1.0f / 500.0f));
        const float y = lab_finv(fy);
        const float z = lab_finv(fy - ab[2 * i + 1] * (1.0f / 200.0f));
        const float r = m00 * x + m01 * y + m02 * z;
        const float g = m10 * x + m11 * y + m12 * z;
        const float b = m20 * x + m21 * y + m22 * z;
        const float rc = clip01(r), gc = clip01(g), bc = clip01(b);
        rgb[0][i] = rc;
        rgb[1][i] = gc;
        rgb[2][i] = bc;
        y0[i] = clip01(l0 * r + l1 * g + l2 * b);
        y1[i] = l0 * rc + l1 * gc + l2 * bc;
        clipped[i] = (r != rc) | (g != gc) | (b != bc);
        any |= clipped[i];
    }
    for (c = 0; c < 3; c++)
        for (i = 0; i < n; i++) enc[c][i] = clip01(encode(rgb[c][i]));
    for (i = 0; i < n; i++) {
        out[3 * i] = enc[0][i];
        out[3 * i + 1] = enc[1][i];
        out[3 * i + 2] = enc[2][i];
    }
    if (!any) return;
    /* the clipped pixels, gathered (branch-free), corrected in a vectorised loop */
    for (i = 0; i < n; i++) {
        index[k] = i;
        k += clipped[i];
    }
    for (j = 0; j < k; j++) {
        target[j] = gray ? gray[index[j]] : y0[index[j]];
        achieved[j] = clip01(y1[index[j]]);
        for (c = 0; c < 3; c++) rgb[c][j] = enc[c][index[j]]; /* rgb is free now */
    }
    if (gray)
        for (j = 0; j < k; j++) target[j] = clip01(target[j]);
    else
        for (j = 0; j < k; j++) target[j] = encode_fine(target[j]);
    for (j = 0; j < k; j++) achieved[j] = encode_fine(achieved[j]);
    /* as core.colorspaces.base.toward_gray: w + s d, with w the wanted gray in [0, 1], d the
     * colour minus its own gray, s the largest in [0, 1] keeping every channel in [0, 1] */
    for (j = 0; j < k; j++) {
        const float w = target[j], have = achieved[j];
        const float d0 = rgb[0][j] - have, d1 = rgb[1][j] - have, d2 = rgb[2][j] - have;
        const float h01 = d0 > d1 ? d0 : d1, l01 = d0 < d1 ? d0 : d1;
        const float high = h01 > d2 ? h01 : d2, low = l01 < d2 ? l01 : d2;
        const float up = w + high > 1.0f ? (1.0f - w) / high : 1.0f;
        const float down = w + low < 0.0f ? -w / low : 1.0f;
        const float s = up < down ? up : down;
        rgb[0][j] = w + s * d0;
        rgb[1][j] = w + s * d1;
        rgb[2][j] = w + s * d2;
    }
    for (j = 0; j < k; j++) {
        float *o = out + 3 * index[j];
        for (c = 0; c < 3; c++) o[c] = clip01(rgb[c][j]);
    }
}

static void recombine_lab(const float *light, const float *ab, const float *gray,
                          const float *constants, float *out, Py_ssize_t n) {
    Py_ssize_t start;
    for (start = 0; start < n; start += BLOCK) {
        const int m = (int)(n - start < BLOCK ? n - start : BLOCK);
        recombine_lab_block(light + start, ab + 2 * start, gray ? gray + start : NULL,
                            constants, out + 3 * start, m);
    }
}

/* --- rgb_to_lab / rgb_to_lightness: sRGB -> CIE L*a*b* (D65), the forward direction.
 *
 * The same formulas as core.colorspaces.lab._rgb_to_lab_step, in one pass and without a
 * table: both powers come from Newton iterations of an inverse root (no division),
 * started from the bit pattern of the float (a float's bits are about
 * 2^23 (127 + log2 x), so scaling them scales the logarithm; Blinn, "Floating-point
 * tricks", IEEE CG&A 17(4), 1997). The start is within 3.5% for every positive float;
 * each step about squares the error, so three steps for the fifth root and two (plus a
 * last one on the cube root itself) leave float32 rounding: against double precision,
 * over every float32 in [knee, 64] and in [eps, 1e6], the relative errors are at most
 * 8.5e-7 (decode: the roundings of u and of the cube) and 1e-7 (f). No calls and no
 * branches, so the loops vectorise; values outside [0, 1] are extrapolated as by the
 * OpenCV path. */

#define SRGB_KNEE 0.040448236277107856 /* the exact knee of lab.py (_SRGB_KNEE) */
#define LAB_EPS (DELTA * DELTA * DELTA)
#define KAPPA (1.0 / INV_KAPPA)
/* Starting points for x^(-1/5) and x^(-1/3): bits(y) = (1 - p) bits(1) + p bits(x) with
 * the offsets below tuned for the least error after the iterations (p = -1/5, -1/3). */
#define ROOT5_BITS 1277923859.0f
#define ROOT3_BITS 1419910955.0f

/* Forward matrix: 9 values, linear RGB -> XYZ / white, row by row (lab.py's
 * _FORWARD_CONSTANTS). */
#define FORWARD_CONSTANTS 9

/* y ~ x^p from the bit pattern of x > 0 (p = -1/5 or -1/3); the integer arithmetic is
 * done in float (exact enough for a start), which vectorises without 32-bit multiplies. */
static inline float root_start(float x, float offset, float p) {
    int32_t bits;
    float y;
    memcpy(&bits, &x, sizeof bits);
    bits = (int32_t)(offset + (float)bits * p);
    memcpy(&y, &bits, sizeof y);
    return y;
}

/* sRGB decoding, branch-free as in lab.py: ((max(x, k) + 0.055) / 1.055)^2.4 plus
 * (min(x, k) - k) / 12.92. With u = (max(x, k) + 0.055) / 1.055 >= 0.09 and
 * y = u^(-1/5), u^2.4 = (u y)^3. NaN stays NaN (max keeps it). */
static inline float srgb_decode(float x) {
    const float k = (float)SRGB_KNEE;
    const float high = x < k ? k : x, low = x < k ? x : k;
    const float u = (high + 0.055f) * (float)(1.0 / 1.055);
    float y = root_start(u, ROOT5_BITS, -0.2f), w;
    int i;
    for (i = 0; i < 3; i++) { /* y <- y (6 - u y^5) / 5 */
        const float y2 = y * y;
        y = y * (1.2f - 0.2f * u * (y2 * y2 * y));
    }
    w = u * y;
    return w * w * w + (low - k) * (float)(1.0 / 12.92);
}

/* f of CIE L*a*b*: cbrt(max(t, eps)) + kappa (min(t, eps) - eps), branch-free. With
 * y = s^(-1/3) (s = max(t, eps) >= 0.0089), c = s y^2 is the cube root; one last step
 * c + (s - c^3) y^2 / 3 (Newton's on c, with 1 / c^2 ~ y^2) rounds it to about an ulp. */
static inline float lab_f(float t) {
    const float eps = (float)LAB_EPS;
    const float s = t < eps ? eps : t, low = t < eps ? t : eps;
    float y = root_start(s, ROOT3_BITS, (float)(-1.0 / 3.0)), c;
    int i;
    for (i = 0; i < 2; i++) { /* y <- y (4 - s y^3) / 3 */
        y = y * ((float)(4.0 / 3.0) - (float)(1.0 / 3.0) * s * (y * y * y));
    }
    c = s * y * y;
    c = c + (s - c * c * c) * (y * y * (float)(1.0 / 3.0));
    return c + (float)KAPPA * (low - eps);
}

/* One block of at most BLOCK pixels, through structure-of-arrays buffers (one loop
 * per step, each vectorised): decode, matrix, f, then Lab (or L* alone). A pixel any of
 * whose f values is not finite (NaN or infinite input, or an overflow) comes out NaN in
 * every channel, as from the OpenCV path, whose matrices multiply them by 0: adding
 * 0 * f does the same here. */
FORWARD_CLONES
static void rgb_to_lab_block(const float *rgb, const float *m, float *out, int n, int lab) {
    float lin[3][BLOCK], f[3][BLOCK];
    int i, c;
    for (i = 0; i < n; i++) {
        lin[0][i] = rgb[3 * i];
        lin[1][i] = rgb[3 * i + 1];
        lin[2][i] = rgb[3 * i + 2];
    }
    for (c = 0; c < 3; c++)
        for (i = 0; i < n; i++) lin[c][i] = srgb_decode(lin[c][i]);
    if (!lab) { /* L* needs Y alone */
        for (i = 0; i < n; i++) {
            const float fy = lab_f(m[3] * lin[0][i] + m[4] * lin[1][i] + m[5] * lin[2][i]);
            out[i] = 116.0f * fy - 16.0f + 0.0f * fy;
        }
        return;
    }
    for (c = 0; c < 3; c++)
        for (i = 0; i < n; i++)
            f[c][i] = m[3 * c] * lin[0][i] + m[3 * c + 1] * lin[1][i] + m[3 * c + 2] * lin[2][i];
    for (c = 0; c < 3; c++)
        for (i = 0; i < n; i++) f[c][i] = lab_f(f[c][i]);
    for (i = 0; i < n; i++) {
        const float fx = f[0][i], fy = f[1][i], fz = f[2][i];
        const float poison = 0.0f * fx + 0.0f * fy + 0.0f * fz;
        out[3 * i] = 116.0f * fy - 16.0f + poison;
        out[3 * i + 1] = 500.0f * (fx - fy) + poison;
        out[3 * i + 2] = 200.0f * (fy - fz) + poison;
    }
}

/* n RGB pixels -> n Lab pixels (lab) or n L* values (!lab). */
static void rgb_to_lab_run(const float *rgb, const float *m, float *out, Py_ssize_t n,
                           int lab) {
    Py_ssize_t start;
    for (start = 0; start < n; start += BLOCK) {
        const int k = (int)(n - start < BLOCK ? n - start : BLOCK);
        rgb_to_lab_block(rgb + 3 * start, m, out + (lab ? 3 : 1) * start, k, lab);
    }
}

/* Clip to [0, 1], scale to [0, top] and round half to even (as numpy's rint): adding
 * and subtracting 1.5 * 2^23 rounds a float below 2^22 to an integer in the default
 * rounding mode, without a call, so the loop vectorises. */
#define QUANTIZE(NAME, TYPE)                                                        \
    VECTOR_CLONES                                                                   \
    static void NAME(const float *src, TYPE *dst, Py_ssize_t n, float top) {        \
        Py_ssize_t i;                                                               \
        for (i = 0; i < n; i++) {                                                   \
            dst[i] = (TYPE)((clip01(src[i]) * top + 12582912.0f) - 12582912.0f);    \
        }                                                                           \
    }
QUANTIZE(quantize_u8, uint8_t)
QUANTIZE(quantize_u16, uint16_t)

/* A C-contiguous float32 buffer of `items` values (any number when items < 0). */
static int float_buffer(PyObject *obj, Py_buffer *view, int writable, Py_ssize_t items,
                        const char *name) {
    const int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    if (!view->format || strcmp(view->format, "f") != 0) {
        PyErr_Format(PyExc_TypeError, "%s: expected float32 values", name);
        PyBuffer_Release(view);
        return -1;
    }
    if (items >= 0 && view->len != items * (Py_ssize_t)sizeof(float)) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd float32 values, got %zd", name, items,
                     view->len / (Py_ssize_t)sizeof(float));
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *py_recombine_lab(PyObject *self, PyObject *args) {
    PyObject *light_obj, *ab_obj, *gray_obj, *out_obj, *constants_obj;
    Py_buffer light, ab, gray, out, constants;
    Py_ssize_t n;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOO", &light_obj, &ab_obj, &gray_obj, &out_obj,
                          &constants_obj))
        return NULL;
    if (float_buffer(constants_obj, &constants, 0, CONSTANTS, "constants") < 0) return NULL;
    if (float_buffer(light_obj, &light, 0, -1, "lightness") < 0) goto fail_constants;
    n = light.len / (Py_ssize_t)sizeof(float);
    if (float_buffer(ab_obj, &ab, 0, 2 * n, "chroma") < 0) goto fail_light;
    if (float_buffer(out_obj, &out, 1, 3 * n, "out") < 0) goto fail_ab;
    if (gray_obj != Py_None && float_buffer(gray_obj, &gray, 0, n, "gray") < 0) goto fail_out;
    Py_BEGIN_ALLOW_THREADS;
    recombine_lab((const float *)light.buf, (const float *)ab.buf,
                  gray_obj != Py_None ? (const float *)gray.buf : NULL,
                  (const float *)constants.buf, (float *)out.buf, n);
    Py_END_ALLOW_THREADS;
    if (gray_obj != Py_None) PyBuffer_Release(&gray);
    PyBuffer_Release(&out);
    PyBuffer_Release(&ab);
    PyBuffer_Release(&light);
    PyBuffer_Release(&constants);
    Py_RETURN_NONE;
fail_out:
    PyBuffer_Release(&out);
fail_ab:
    PyBuffer_Release(&ab);
fail_light:
    PyBuffer_Release(&light);
fail_constants:
    PyBuffer_Release(&constants);
    return NULL;
}

/* rgb_to_lab(rgb, out, constants) and rgb_to_lightness(rgb, out, constants): `channels`
 * output values per pixel (3: Lab, 1: L*). */
static PyObject *forward(PyObject *args, int channels, const char *name) {
    PyObject *rgb_obj, *out_obj, *constants_obj;
    Py_buffer rgb, out, constants;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "OOO", &rgb_obj, &out_obj, &constants_obj)) return NULL;
    if (float_buffer(constants_obj, &constants, 0, FORWARD_CONSTANTS, "constants") < 0)
        return NULL;
    if (float_buffer(rgb_obj, &rgb, 0, -1, "rgb") < 0) goto fail_constants;
    n = rgb.len / (Py_ssize_t)sizeof(float);
    if (n % 3 != 0) {
        PyErr_Format(PyExc_ValueError, "%s: rgb: expected 3 values per pixel, got %zd values",
                     name, n);
        goto fail_rgb;
    }
    n /= 3;
    if (float_buffer(out_obj, &out, 1, channels * n, "out") < 0) goto fail_rgb;
    Py_BEGIN_ALLOW_THREADS;
    rgb_to_lab_run((const float *)rgb.buf, (const float *)constants.buf, (float *)out.buf, n,
                   channels == 3);
    Py_END_ALLOW_THREADS;
    PyBuffer_Release(&out);
    PyBuffer_Release(&rgb);
    PyBuffer_Release(&constants);
    Py_RETURN_NONE;
fail_rgb:
    PyBuffer_Release(&rgb);
fail_constants:
    PyBuffer_Release(&constants);
    return NULL;
}

static PyObject *py_rgb_to_lab(PyObject *self, PyObject *args) {
    (void)self;
    return forward(args, 3, "rgb_to_lab");
}

static PyObject *py_rgb_to_lightness(PyObject *self, PyObject *args) {
    (void)self;
    return forward(args, 1, "rgb_to_lightness");
}

static PyObject *py_quantize(PyObject *self, PyObject *args) {
    PyObject *src_obj, *dst_obj;
    Py_buffer src, dst;
    Py_ssize_t n;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO", &src_obj, &dst_obj)) return NULL;
    if (float_buffer(src_obj, &src, 0, -1, "quantize: input") < 0) return NULL;
    n = src.len / (Py_ssize_t)sizeof(float);
    if (PyObject_GetBuffer(dst_obj, &dst, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) <
        0) {
        PyBuffer_Release(&src);
        return NULL;
    }
    if (!dst.format || (strcmp(dst.format, "B") != 0 && strcmp(dst.format, "H") != 0)) {
        PyErr_SetString(PyExc_TypeError, "quantize: expected a uint8 or uint16 output");
    } else if (dst.len != n * dst.itemsize) {
        PyErr_Format(PyExc_ValueError, "quantize: %zd values in, room for %zd out", n,
                     dst.len / dst.itemsize);
    } else {
        const float *from = (const float *)src.buf;
        const int wide = dst.itemsize == 2;
        Py_BEGIN_ALLOW_THREADS;
        if (wide)
            quantize_u16(from, (uint16_t *)dst.buf, n, 65535.0f);
        else
            quantize_u8(from, (uint8_t *)dst.buf, n, 255.0f);
        Py_END_ALLOW_THREADS;
    }
    PyBuffer_Release(&dst);
    PyBuffer_Release(&src);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"recombine_lab", py_recombine_lab, METH_VARARGS,
     "recombine_lab(lightness, chroma, gray, out, constants): Lab -> clipped sRGB with the\n"
     "App. A.4 lightness correction (desaturating toward the wanted gray where it would\n"
     "leave [0, 1]), in one pass. Contiguous float32 buffers of n, 2n, n\n"
     "(or None), 3n and 12 values (the matrices of core.colorspaces.lab); writes out.\n"
     "Releases the GIL."},
    {"rgb_to_lab", py_rgb_to_lab, METH_VARARGS,
     "rgb_to_lab(rgb, out, constants): sRGB -> CIE L*a*b* (D65) in one pass. Contiguous\n"
     "float32 buffers of 3n, 3n and 9 values (linear RGB -> XYZ / white, row by row, from\n"
     "core.colorspaces.lab); writes out. Releases the GIL."},
    {"rgb_to_lightness", py_rgb_to_lightness, METH_VARARGS,
     "rgb_to_lightness(rgb, out, constants): CIE L* of sRGB pixels in one pass; as\n"
     "rgb_to_lab with an out of n values. Releases the GIL."},
    {"quantize", py_quantize, METH_VARARGS,
     "quantize(src, dst): float32 values clipped to [0, 1], scaled to the full range of\n"
     "dst (uint8 or uint16, same number of values) and rounded half to even (numpy's\n"
     "rint). Releases the GIL."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels",
    "Optional single-pass C kernels of the core (see core/_kernels.c).", -1, methods,
};

PyMODINIT_FUNC PyInit__kernels(void) {
    init_pow_table();
    return PyModule_Create(&module);
}
