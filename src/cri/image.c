/* The CRI ImageService: PullImage, ImageStatus, ListImages, RemoveImage, ImageFsInfo. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/macro.h"
#include "cri/cri-internal.h"
#include "image/image.h"

struct pull_ctx {
    struct grpc_call *call;
    struct image_pull *pull;
};

/* "1000", "1000:1000", "user", "user:group" → uid or username, as the kubelet wants them. */
static void image_user(const char *user, Runtime__V1__Int64Value *uid, Runtime__V1__Image *out)
{
    size_t n = strcspn(user, ":");
    if (n == 0)
        return;
    char *end;
    cleanup_free char *u = xstrndup(user, n);
    long long v = strtoll(u, &end, 10);
    if (*end == '\0' && v >= 0) {
        uid->value = v;
        out->uid = uid;
    } else {
        out->username = xstrdup(u);
    }
}

static void image_fill(const struct image_record *r, Runtime__V1__Image *out,
                       Runtime__V1__Int64Value *uid)
{
    out->id = r->id;
    out->repo_tags = r->names;
    out->n_repo_tags = r->n_names;
    out->repo_digests = r->digests;
    out->n_repo_digests = r->n_digests;
    out->size = r->size;
    image_user(r->user, uid, out);
}

static void image_done(Runtime__V1__Image *out)
{
    if (out->username != protobuf_c_empty_string)
        free(out->username);
}

static const char *spec_image(const Runtime__V1__ImageSpec *spec)
{
    return spec && spec->image ? spec->image : "";
}

void cri_image_status(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__ImageStatusRequest *r = (const void *)req;
    const char *name = spec_image(r->image);
    if (!*name) {
        reactor_grpc_call_finish(call, GRPC_INVALID_ARGUMENT, "ImageStatus needs an image");
        return;
    }
    struct err err = ERR_INIT;
    const struct image_record *img = image_store_find(cri->images, name, &err);
    Runtime__V1__ImageStatusResponse resp = RUNTIME__V1__IMAGE_STATUS_RESPONSE__INIT;
    if (err.code) {
        cri_reply_err(call, &err);
        err_done(&err);
        return;
    }
    /* An image that is not there is not an error: the reply has no image. */
    Runtime__V1__Image out = RUNTIME__V1__IMAGE__INIT;
    Runtime__V1__Int64Value uid = RUNTIME__V1__INT64_VALUE__INIT;
    Runtime__V1__ImageStatusResponse__InfoEntry info =
        RUNTIME__V1__IMAGE_STATUS_RESPONSE__INFO_ENTRY__INIT;
    Runtime__V1__ImageStatusResponse__InfoEntry *infos[1] = {&info};
    cleanup_free char *info_json = NULL;
    if (img) {
        image_fill(img, &out, &uid);
        resp.image = &out;
        if (r->verbose) {
            info_json = xasprintf("{\"id\":\"%s\",\"manifestDigest\":\"%s\",\"layers\":%zu,"
                                  "\"pulledAt\":%lld,\"imageConfig\":%s}",
                                  img->id, img->manifest_digest, img->n_layers,
                                  (long long)img->pulled_at, img->config);
            info.key = "info";
            info.value = info_json;
            resp.info = infos;
            resp.n_info = 1;
        }
    }
    cri_reply(call, &resp.base);
    image_done(&out);
}

void cri_list_images(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__ListImagesRequest *r = (const void *)req;
    const char *filter = r->filter ? spec_image(r->filter->image) : "";
    const struct image_record *only = NULL;
    if (*filter) {
        struct err err = ERR_INIT;
        only = image_store_find(cri->images, filter, &err);
        err_done(&err);
        if (!only) {
            Runtime__V1__ListImagesResponse empty = RUNTIME__V1__LIST_IMAGES_RESPONSE__INIT;
            cri_reply(call, &empty.base);
            return;
        }
    }
    size_t n = 0;
    for (const struct image_record *i = image_store_first(cri->images); i; i = i->next)
        n++;
    cleanup_free Runtime__V1__Image *imgs = xcalloc(n ? n : 1, sizeof(*imgs));
    cleanup_free Runtime__V1__Image **ptrs = xcalloc(n ? n : 1, sizeof(*ptrs));
    cleanup_free Runtime__V1__Int64Value *uids = xcalloc(n ? n : 1, sizeof(*uids));
    size_t k = 0;
    for (const struct image_record *i = image_store_first(cri->images); i; i = i->next) {
        if (only && i != only)
            continue;
        Runtime__V1__Image init = RUNTIME__V1__IMAGE__INIT;
        Runtime__V1__Int64Value uinit = RUNTIME__V1__INT64_VALUE__INIT;
        imgs[k] = init;
        uids[k] = uinit;
        image_fill(i, &imgs[k], &uids[k]);
        ptrs[k] = &imgs[k];
        k++;
    }
    Runtime__V1__ListImagesResponse resp = RUNTIME__V1__LIST_IMAGES_RESPONSE__INIT;
    resp.images = ptrs;
    resp.n_images = k;
    cri_reply(call, &resp.base);
    for (size_t i = 0; i < k; i++)
        image_done(&imgs[i]);
}

void cri_remove_image(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__RemoveImageRequest *r = (const void *)req;
    const char *name = spec_image(r->image);
    if (!*name) {
        reactor_grpc_call_finish(call, GRPC_INVALID_ARGUMENT, "RemoveImage needs an image");
        return;
    }
    struct err err = ERR_INIT;
    const struct image_record *img = image_store_find(cri->images, name, &err);
    if (!img && err.code) {
        cri_reply_err(call, &err);
        err_done(&err);
        return;
    }
    /* Removing an image that is not there succeeds: the call is idempotent. */
    if (img && image_store_remove(cri->images, img, &err) < 0) {
        cri_reply_err(call, &err);
        err_done(&err);
        return;
    }
    Runtime__V1__RemoveImageResponse resp = RUNTIME__V1__REMOVE_IMAGE_RESPONSE__INIT;
    cri_reply(call, &resp.base);
}

static void on_pulled(int status, const char *image_id, struct err *err, void *data)
{
    struct pull_ctx *ctx = data;
    if (status == 0) {
        Runtime__V1__PullImageResponse resp = RUNTIME__V1__PULL_IMAGE_RESPONSE__INIT;
        resp.image_ref = (char *)image_id;
        cri_reply(ctx->call, &resp.base);
    } else if (status != -ECANCELED || !reactor_grpc_call_is_done(ctx->call)) {
        cri_reply_err(ctx->call, err);
        if (status != -ENOENT && status != -EINVAL)
            log_warn("%s", err_msg(err));
    }
    reactor_grpc_call_on_cancel(ctx->call, NULL, NULL);
    reactor_grpc_call_unref(ctx->call);
    free(ctx);
}

static void on_pull_cancel(struct grpc_call *call, void *data)
{
    struct pull_ctx *ctx = data;
    image_pull_cancel(ctx->pull);
}

void cri_pull_image(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__PullImageRequest *r = (const void *)req;
    const char *name = spec_image(r->image);
    if (!*name) {
        reactor_grpc_call_finish(call, GRPC_INVALID_ARGUMENT, "PullImage needs an image");
        return;
    }
    struct image_auth auth = {0};
    if (r->auth) {
        auth.username = r->auth->username;
        auth.password = r->auth->password;
        auth.auth = r->auth->auth;
        auth.identity_token = r->auth->identity_token;
        auth.registry_token = r->auth->registry_token;
        auth.server_address = r->auth->server_address;
    }
    struct pull_ctx *ctx = xcalloc(1, sizeof(*ctx));
    ctx->call = reactor_grpc_call_ref(call);
    reactor_grpc_call_on_cancel(call, on_pull_cancel, ctx);
    log_info("pulling %s", name);
    struct image_pull *p = image_pull_start(cri->images, name, &auth, on_pulled, ctx);
    if (!p)
        return; /* on_pulled already ran and freed ctx */
    ctx->pull = p;
}

struct fsinfo_ctx {
    struct cri *cri;
    struct grpc_call *call;
};

static void on_usage(int status, uint64_t bytes, uint64_t inodes, void *data)
{
    struct fsinfo_ctx *ctx = data;
    if (status < 0) {
        struct err err = ERR_INIT;
        err_set(&err, status, "disk usage of %s: %s", image_store_root(ctx->cri->images),
                strerror(-status));
        cri_reply_err(ctx->call, &err);
        err_done(&err);
    } else {
        Runtime__V1__FilesystemUsage fs = RUNTIME__V1__FILESYSTEM_USAGE__INIT;
        Runtime__V1__FilesystemIdentifier id = RUNTIME__V1__FILESYSTEM_IDENTIFIER__INIT;
        Runtime__V1__UInt64Value ub = RUNTIME__V1__UINT64_VALUE__INIT;
        Runtime__V1__UInt64Value ui = RUNTIME__V1__UINT64_VALUE__INIT;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        fs.timestamp = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        id.mountpoint = (char *)image_store_root(ctx->cri->images);
        fs.fs_id = &id;
        ub.value = bytes;
        ui.value = inodes;
        fs.used_bytes = &ub;
        fs.inodes_used = &ui;
        Runtime__V1__FilesystemUsage *list[1] = {&fs};
        Runtime__V1__ImageFsInfoResponse resp = RUNTIME__V1__IMAGE_FS_INFO_RESPONSE__INIT;
        resp.image_filesystems = list;
        resp.n_image_filesystems = 1;
        resp.container_filesystems = list;
        resp.n_container_filesystems = 1;
        cri_reply(ctx->call, &resp.base);
    }
    reactor_grpc_call_unref(ctx->call);
    free(ctx);
}

void cri_image_fs_info(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    struct fsinfo_ctx *ctx = xcalloc(1, sizeof(*ctx));
    ctx->cri = cri;
    ctx->call = reactor_grpc_call_ref(call);
    image_store_usage(cri->images, on_usage, ctx);
}
