/* --version: ossfs and the libraries it runs with.  The one file outside
 * bridge/ that includes a FUSE header, for fuse_pkgversion() only (libfuse
 * forbids including fuse_common.h directly; fuse.h is the lighter of the
 * two it allows, and nothing here touches the session). */
#define FUSE_USE_VERSION 35

#include <curl/curl.h>
#include <fuse.h>
#include <libxml/xmlversion.h>
#include <openssl/crypto.h>
#include <stdio.h>

#include "main_i.h"

void main_print_version(FILE *out)
{
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

	fprintf(out, "ossfs %s\n", OSSFS_VERSION);
	fprintf(out, "libfuse %s\n", fuse_pkgversion());
	fprintf(out, "libcurl %s%s%s\n", cv->version,
		cv->ssl_version ? " " : "",
		cv->ssl_version ? cv->ssl_version : "");
	fprintf(out, "%s\n", OpenSSL_version(OPENSSL_VERSION));
	fprintf(out, "libxml2 %s\n", LIBXML_DOTTED_VERSION);
}
