/* CRC-64/ECMA-182 in its reflected form (the one OSS reports in
 * x-oss-hash-crc64ecma): poly 0xC96C5795D7870F42, init and xorout all ones.
 * Slicing-by-8 tables are built once, under pthread_once. */
#include <pthread.h>

#include "base.h"

#define CRC64_POLY_REFLECTED 0xC96C5795D7870F42ULL

static uint64_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc64_build_tables(void)
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
}

uint64_t crc64_update(uint64_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	pthread_once(&crc_once, crc64_build_tables);
	crc = ~crc;
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
	return ~crc;
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
