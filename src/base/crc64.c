/* CRC-64/ECMA-182 in its reflected form (the one OSS reports in
 * x-oss-hash-crc64ecma): poly 0xC96C5795D7870F42, init and xorout all ones.
 *
 * Two implementations, picked once under pthread_once:
 *  - slicing-by-8 tables, portable, always built;
 *  - on x86-64 CPUs with PCLMULQDQ, carry-less multiplication folding, with
 *    the constants derived from the polynomial at start-up (see below).
 *
 * Notation.  P = x^64 + P' is the generator; P' reflected is the constant
 * below.  In the reflected representation bit i of a 64-bit word is the
 * coefficient of x^(63 - i) (bit 0 is the highest power), and in a 128-bit
 * SSE register loaded little-endian from the message bit m is the
 * coefficient of x^(127 - m), so the low qword holds the higher powers.
 * The CRC register after a message M (with zero init) is M * x^64 mod P. */
#include <pthread.h>

#include "base.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC64_HAVE_CLMUL 1
#include <immintrin.h>
#else
#define CRC64_HAVE_CLMUL 0
#endif

#define CRC64_POLY_REFLECTED 0xC96C5795D7870F42ULL

static uint64_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* The working routine takes and returns the raw (not inverted) register. */
typedef uint64_t (*crc64_fn)(uint64_t crc, const unsigned char *p, size_t len);

static uint64_t crc64_slice8(uint64_t crc, const unsigned char *p, size_t len)
{
	while (len >= 8) {
		uint64_t v = crc;

		for (int i = 0; i < 8; i++)
			v ^= (uint64_t)p[i] << (8 * i);
		crc = crc_table[7][v & 0xff] ^ crc_table[6][v >> 8 & 0xff] ^
		      crc_table[5][v >> 16 & 0xff] ^
		      crc_table[4][v >> 24 & 0xff] ^
		      crc_table[3][v >> 32 & 0xff] ^
		      crc_table[2][v >> 40 & 0xff] ^
		      crc_table[1][v >> 48 & 0xff] ^ crc_table[0][v >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

static crc64_fn crc_impl = crc64_slice8;

#if CRC64_HAVE_CLMUL
/* Folding constants, reflected 64-bit words, filled in by crc64_init. */
static struct {
	uint64_t fold512[2], fold384[2], fold256[2], fold128[2];
	uint64_t mu; /* floor(x^128 / P) - x^64 */
} crc_k;

/* Multiplying by x is a right shift in the reflected form; the x^63 term
 * (bit 0) becomes x^64, which is congruent to P'.  This is one step of the
 * bitwise CRC. */
static uint64_t crc64_mulx(uint64_t r)
{
	return r & 1 ? (r >> 1) ^ CRC64_POLY_REFLECTED : r >> 1;
}

/* x^n mod P, reflected. */
static uint64_t crc64_xpow(unsigned n)
{
	uint64_t r = 1ULL << 63; /* x^0 */

	while (n--)
		r = crc64_mulx(r);
	return r;
}

/* Folding a 128-bit block A = A_hi * x^64 + A_lo forward by D bits means
 * replacing A * x^D with A_hi * (x^(D+64) mod P) + A_lo * (x^D mod P), which
 * is congruent mod P and again fits in 128 bits.  A carry-less multiply of
 * two reflected words yields their product in reflected 128-bit form
 * shifted by one place (the product has degree 126, not 127), i.e. times x;
 * the constants absorb that by using x^(D+63) and x^(D-1).  A_hi is the low
 * qword of the register, so it pairs with the low qword of the constant. */
static void crc64_fold_consts(uint64_t k[2], unsigned bits)
{
	k[0] = crc64_xpow(bits + 63);
	k[1] = crc64_xpow(bits - 1);
}

/* Barrett constant mu = floor(x^128 / P).  Computing x^128 mod P by repeated
 * multiplication by x subtracts P * x^(128 - k) at each step k that
 * overflows, so those steps are exactly the quotient's terms.  The first is
 * at k = 64 (the x^64 term); the rest, k = 65..128, give x^(128 - k), which
 * is reflected bit k - 65. */
static uint64_t crc64_barrett_mu(void)
{
	uint64_t r = 1ULL << 63, mu = 0;

	for (unsigned k = 1; k <= 128; k++) {
		if (k >= 65 && (r & 1))
			mu |= 1ULL << (k - 65);
		r = crc64_mulx(r);
	}
	return mu;
}

#define CRC64_TARGET __attribute__((target("pclmul,sse4.1")))

CRC64_TARGET static inline __m128i crc64_fold(__m128i a, __m128i k)
{
	return _mm_xor_si128(_mm_clmulepi64_si128(a, k, 0x00),
			     _mm_clmulepi64_si128(a, k, 0x11));
}

CRC64_TARGET static inline __m128i crc64_load(const unsigned char *p)
{
	return _mm_loadu_si128((const __m128i *)(const void *)p);
}

CRC64_TARGET static inline __m128i crc64_k(const uint64_t k[2])
{
	return _mm_set_epi64x((long long)k[1], (long long)k[0]);
}

/* From a 128-bit remainder A (message bits, congruent to everything seen so
 * far) to the register A * x^64 mod P.  With A = A_hi * x^64 + A_lo:
 *   A * x^64 = A_hi * x^128 + A_lo * x^64
 *           == A_hi * (x^128 mod P) + A_lo * x^64 =: V = V_hi * x^64 + V_lo,
 * and V mod P = (V_hi * x^64 mod P) + V_lo.  The first term is Barrett's:
 * q = floor(V_hi * mu / x^64) = V_hi + floor(V_hi * (mu - x^64) / x^64) and
 * V_hi * x^64 mod P = (q * P) mod x^64 = (q * P') mod x^64. */
CRC64_TARGET static uint64_t crc64_reduce(__m128i a)
{
	__m128i k = _mm_set_epi64x(0, (long long)crc_k.fold128[1]);
	__m128i v, t, q, u;
	uint64_t lo, hi;

	/* A_hi (low qword) * x^127 mod P, the extra x from clmul making it
	 * x^128; A_lo moves to the low qword, where x^64..x^127 live. */
	v = _mm_xor_si128(_mm_clmulepi64_si128(a, k, 0x00),
			  _mm_srli_si128(a, 8));
	/* V_hi * (mu - x^64): bit m of the product is x^(126 - m); the terms
	 * of degree >= 64 (m <= 62), divided by x^64, are reflected bit m + 1
	 * of the quotient word. */
	t = _mm_clmulepi64_si128(v, _mm_cvtsi64_si128((long long)crc_k.mu),
				 0x00);
	q = _mm_xor_si128(v, _mm_slli_epi64(t, 1));
	/* q * P': the terms of degree <= 63 are product bits 63..126, which
	 * become reflected bits 0..63. */
	u = _mm_clmulepi64_si128(
		q, _mm_cvtsi64_si128((long long)CRC64_POLY_REFLECTED), 0x00);
	lo = (uint64_t)_mm_cvtsi128_si64(u);
	hi = (uint64_t)_mm_extract_epi64(u, 1);
	return ((hi << 1) | (lo >> 63)) ^ (uint64_t)_mm_extract_epi64(v, 1);
}

CRC64_TARGET static uint64_t crc64_clmul(uint64_t crc, const unsigned char *p,
					 size_t len)
{
	__m128i x0, x1, x2, x3, k;

	if (len < 16)
		return crc64_slice8(crc, p, len);
	/* The register joins the message by xor into its first 64 bits. */
	x0 = _mm_xor_si128(crc64_load(p), _mm_cvtsi64_si128((long long)crc));
	p += 16;
	len -= 16;
	if (len >= 48) {
		/* Four independent lanes, each folded 512 bits ahead. */
		x1 = crc64_load(p);
		x2 = crc64_load(p + 16);
		x3 = crc64_load(p + 32);
		p += 48;
		len -= 48;
		k = crc64_k(crc_k.fold512);
		while (len >= 64) {
			x0 = _mm_xor_si128(crc64_fold(x0, k), crc64_load(p));
			x1 = _mm_xor_si128(crc64_fold(x1, k),
					   crc64_load(p + 16));
			x2 = _mm_xor_si128(crc64_fold(x2, k),
					   crc64_load(p + 32));
			x3 = _mm_xor_si128(crc64_fold(x3, k),
					   crc64_load(p + 48));
			p += 64;
			len -= 64;
		}
		/* Lanes 0..2 end 384, 256 and 128 bits before lane 3 does. */
		x3 = _mm_xor_si128(x3, crc64_fold(x0, crc64_k(crc_k.fold384)));
		x3 = _mm_xor_si128(x3, crc64_fold(x1, crc64_k(crc_k.fold256)));
		x0 = _mm_xor_si128(x3, crc64_fold(x2, crc64_k(crc_k.fold128)));
	}
	k = crc64_k(crc_k.fold128);
	while (len >= 16) {
		x0 = _mm_xor_si128(crc64_fold(x0, k), crc64_load(p));
		p += 16;
		len -= 16;
	}
	return crc64_slice8(crc64_reduce(x0), p, len);
}
#endif

static void crc64_init(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint64_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC64_POLY_REFLECTED : c >> 1;
		crc_table[0][i] = c;
	}
	for (unsigned i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] =
				crc_table[0][crc_table[t - 1][i] & 0xff] ^
				(crc_table[t - 1][i] >> 8);
#if CRC64_HAVE_CLMUL
	crc64_fold_consts(crc_k.fold512, 512);
	crc64_fold_consts(crc_k.fold384, 384);
	crc64_fold_consts(crc_k.fold256, 256);
	crc64_fold_consts(crc_k.fold128, 128);
	crc_k.mu = crc64_barrett_mu();
	__builtin_cpu_init();
	if (__builtin_cpu_supports("pclmul") &&
	    __builtin_cpu_supports("sse4.1"))
		crc_impl = crc64_clmul;
#endif
}

uint64_t crc64_update(uint64_t crc, const void *data, size_t len)
{
	pthread_once(&crc_once, crc64_init);
	return ~crc_impl(~crc, data, len);
}

/* For tests and benchmarks: the table path, and which path crc64_update
 * takes.  Not in base.h on purpose. */
uint64_t crc64_update_portable(uint64_t crc, const void *data, size_t len);
uint64_t crc64_update_portable(uint64_t crc, const void *data, size_t len)
{
	pthread_once(&crc_once, crc64_init);
	return ~crc64_slice8(~crc, data, len);
}

const char *crc64_impl_name(void);
const char *crc64_impl_name(void)
{
	pthread_once(&crc_once, crc64_init);
	return crc_impl == crc64_slice8 ? "slicing-by-8" : "pclmul";
}

/* GF(2) matrix helpers for crc64_combine, as in zlib's crc32_combine. */
static uint64_t gf2_times(const uint64_t *mat, uint64_t vec)
{
	uint64_t sum = 0;

	for (int i = 0; vec; vec >>= 1, i++)
		if (vec & 1)
			sum ^= mat[i];
	return sum;
}

static void gf2_square(uint64_t *square, const uint64_t *mat)
{
	for (int n = 0; n < 64; n++)
		square[n] = gf2_times(mat, mat[n]);
}

uint64_t crc64_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b)
{
	uint64_t even[64], odd[64], row = 1;

	if (len_b == 0)
		return crc_a;
	odd[0] = CRC64_POLY_REFLECTED;
	for (int n = 1; n < 64; n++) {
		odd[n] = row;
		row <<= 1;
	}
	gf2_square(even, odd); /* two zero bits */
	gf2_square(odd, even); /* four zero bits */
	do {
		gf2_square(even, odd);
		if (len_b & 1)
			crc_a = gf2_times(even, crc_a);
		len_b >>= 1;
		if (!len_b)
			break;
		gf2_square(odd, even);
		if (len_b & 1)
			crc_a = gf2_times(odd, crc_a);
		len_b >>= 1;
	} while (len_b);
	return crc_a ^ crc_b;
}
