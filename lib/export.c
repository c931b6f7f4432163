/*
 * export.c - a pause's attachments as its readers get them: the state of
 * each one's blob checked (`show`, the server's pause view), and one of
 * them copied out to a file or a descriptor once its blob is verified
 * (`export`, the server's download). Above the readers (scan.c) and the
 * blob store (blob.c), which own the pause file and the blobs.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int lp_pause_info_check_attachments(lp_pause_info *info)
{
	if (info == NULL)
		return lpi_fail(LP_EINVAL, "lp_pause_info_check_attachments: no pause");
	if (info->nattachments == 0)
		return LP_OK;
	lp_store *store = NULL;
	int rc = lp_store_open(&store, info->pause_dir, 0);
	int run_fd = -1;
	if (rc == LP_OK)
		rc = lpi_run_dirs_open(store, info->run_id, &run_fd);
	for (size_t i = 0; i < info->nattachments; i++) {
		lp_attachment *a = &info->attachments[i];
		int v = rc ? LP_ENOTFOUND : lpi_blob_verify(run_fd, a->sha256, a->size, NULL);
		a->blob = v == LP_OK        ? LP_BLOB_OK
			  : v == LP_EBADCMD ? LP_BLOB_CORRUPT
					    : LP_BLOB_MISSING;
	}
	if (run_fd >= 0)
		close(run_fd);
	lp_store_free(store);
	lpi_error_clear();
	if (info->json == NULL)
		return LP_OK;
	lp_json *doc;
	if (lpj_parse_object(info->json, strlen(info->json), "pause", &doc))
		return LP_ERROR;
	lp_json *list = lpj_get(doc, "attachments");
	rc = LP_OK;
	for (size_t i = 0; !rc && i < info->nattachments && i < lpj_size(list); i++)
		rc = lpj_set_str(lpj_array_get(list, i), "blob",
				 lp_blob_state_name(info->attachments[i].blob));
	char *text = rc ? NULL : lpj_dump(doc);
	lpj_free(doc);
	if (text == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	free(info->json);
	info->json = text;
	return LP_OK;
}

/* Find `which` (a sha256 or a name) among a pause's attachments. */
static int find(const lp_pause_info *info, const char *which, const lp_attachment **out)
{
	const lp_attachment *hit = NULL;
	int ambiguous = 0;
	for (size_t i = 0; i < info->nattachments; i++)
		if (strcmp(info->attachments[i].sha256, which) == 0) {
			*out = &info->attachments[i];
			return LP_OK;
		}
	for (size_t i = 0; i < info->nattachments; i++) {
		const lp_attachment *a = &info->attachments[i];
		if (strcmp(a->name, which) != 0)
			continue;
		if (hit == NULL)
			hit = a;
		else if (strcmp(hit->sha256, a->sha256) != 0)
			ambiguous = 1;
	}
	if (ambiguous)
		return lpi_fail(
			LP_EINVAL,
			"pause %s has several attachments named '%.200s' with different contents: name one by its sha256 (see 'show %s')",
			info->pause_id, which, info->pause_id);
	if (hit) {
		*out = hit;
		return LP_OK;
	}
	return lpi_fail(
		LP_ENOTFOUND,
		"pause %s has no attachment named '%.200s' (%zu attachments; see 'show %s')",
		info->pause_id, which, info->nattachments, info->pause_id);
}

/* Copy a verified blob to out_path through a temporary file beside it. */
static int export_file(int fd, const lp_attachment *a, const char *out_path)
{
	size_t n = strlen(out_path) + 40;
	char *tmp = malloc(n), rnd[17];
	if (tmp == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	int rc = lpi_random_hex(rnd, 8);
	if (rc) {
		free(tmp);
		return rc;
	}
	snprintf(tmp, n, "%s.tmp.%s", out_path, rnd);
	int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = lpi_fail_errno(LP_ERROR, errno, "cannot write %s", out_path);
		free(tmp);
		return rc;
	}
	char sha[LP_SHA256_HEX + 1];
	unsigned long long total;
	int werr = 0;
	rc = lpi_blob_copy(fd, out, 1, a->size, "a blob", sha, &total, &werr);
	if (rc == LP_EINVAL || (rc == LP_OK && (strcmp(sha, a->sha256) != 0 || total != a->size)))
		rc = lpi_fail(
			LP_EBADCMD,
			"blob %s changed while it was copied: its bytes do not match; nothing written",
			a->sha256);
	if (rc == LP_OK && !lpi_fsync_disabled() && fsync(out) < 0)
		werr = errno;
	if (close(out) < 0 && !werr)
		werr = errno;
	if (rc == LP_OK && werr)
		rc = LP_ERROR;
	if (werr && (rc == LP_ERROR))
		lpi_fail_errno(LP_ERROR, werr, "cannot write %s", out_path);
	if (rc == LP_OK && rename(tmp, out_path) < 0)
		rc = lpi_fail_errno(LP_ERROR, errno, "cannot write %s", out_path);
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

int lp_attachment_export(lp_store *store, const char *ref, const char *which, const char *out_path,
			 int out_fd, lp_attachment *found)
{
	if (found)
		memset(found, 0, sizeof *found);
	if (which == NULL || which[0] == '\0')
		return lpi_fail(LP_EINVAL, "name an attachment: its name or its sha256");
	if (out_path == NULL && out_fd < 0)
		return lpi_fail(LP_EINVAL, "lp_attachment_export: no output");
	lp_pause_info *info = NULL;
	int rc = lp_pause_info_load(&info, store, ref);
	if (rc)
		return rc;
	const lp_attachment *a = NULL;
	lp_store *own = NULL;
	int run_fd = -1, fd = -1;
	if ((rc = find(info, which, &a)))
		goto done;
	if ((rc = lp_store_open(&own, info->pause_dir, 0)) ||
	    (rc = lpi_run_dirs_open(own, info->run_id, &run_fd)))
		goto done;
	rc = lpi_blob_verify(run_fd, a->sha256, a->size, &fd);
	if (rc == LP_ENOTFOUND)
		rc = lpi_fail(
			LP_ENOTFOUND,
			"attachment '%s' of pause %s: its blob %s is missing (removed by hand?)",
			a->name, info->pause_id, a->sha256);
	else if (rc == LP_EBADCMD)
		rc = lpi_fail(LP_EBADCMD, "attachment '%s' of pause %s: %s; nothing written",
			      a->name, info->pause_id, lp_error_message());
	if (rc)
		goto done;
	if (out_path) {
		rc = export_file(fd, a, out_path);
	} else {
		/* verified above; copied now, checked again as it goes */
		char sha[LP_SHA256_HEX + 1];
		unsigned long long total;
		int werr = 0;
		rc = lpi_blob_copy(fd, out_fd, 0, a->size, "a blob", sha, &total, &werr);
		if (rc == LP_ERROR && werr)
			rc = lpi_fail_errno(LP_ERROR, werr, "cannot write attachment '%s'",
					    a->name);
		else if (rc == LP_OK && strcmp(sha, a->sha256) != 0)
			rc = lpi_fail(LP_EBADCMD, "blob %s changed while it was copied", a->sha256);
	}
	if (rc == LP_OK && found)
		rc = lpi_attachment_dup(found, a);
done:
	if (fd >= 0)
		close(fd);
	if (run_fd >= 0)
		close(run_fd);
	lp_store_free(own);
	lp_pause_info_free(info);
	return rc;
}
