/* The publisher's side of the data plane: an RTP datagram off the socket, SRTP-unprotected and
 * parsed, in C.
 *
 * Every packet a publisher sends used to cost the event loop two pieces of Python before the
 * SFU could look at it: pylibsrtp's unprotect (a cffi call wrapped in a cell allocation, two
 * buffer copies and a slice) and aiortc's ``RtpPacket.parse`` (struct unpacks, a list of
 * header extensions, a dataclass built through ``__init__``). On this machine's kind that is
 * ≈ 45 µs per publisher packet; here it is two C calls.
 *
 *   Unprotector(srtp_unprotect, ctx, owner)(data) -> bytes | None
 *       libsrtp's srtp_unprotect (its address, from pylibsrtp's cffi binding: this module links
 *       no libsrtp) on a copy of the datagram in a new bytes object; None when libsrtp refuses
 *       it (replay, bad tag, unknown SSRC), as pylibsrtp's raise was dropped by the caller.
 *
 *   parse_rtp(data, ids, packet_type, extensions_type) -> packet
 *       what ``RtpPacket.parse(data, extensions_map)`` returns, built without running Python:
 *       an instance of ``packet_type`` (aiortc's RtpPacket) with the attributes its __init__
 *       sets, in the same order (so instances share their keys as aiortc's do), and the header
 *       extensions the map's ids (``HeaderExtensions`` of extension ids, read on every call: a
 *       renegotiation re-configures them) select, as ``HeaderExtensionsMap.get`` decodes them.
 *       ValueError with aiortc's messages for a malformed packet; unlike aiortc, an extension
 *       of the wrong length is a ValueError too (aiortc's struct.error escaped its callers).
 */
#include "_dataplane.h"

#include <stddef.h>
#include <string.h>

typedef int (*unprotect_fn)(void *ctx, void *srtp, int *len);

/* ---- Unprotector -------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    unprotect_fn fn;
    void *ctx;       /* srtp_t */
    PyObject *owner; /* keeps the session (and ctx) alive: pylibsrtp.Session */
    unsigned long long refused;
    vectorcallfunc vectorcall;
} Unprotector;

static PyObject *unprotector_call(Unprotector *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "unprotect(data)");
        return NULL;
    }
    if (self->ctx == NULL) { /* cleared by the garbage collector (tp_clear) */
        PyErr_SetString(PyExc_RuntimeError, "unprotect: the session is gone");
        return NULL;
    }
    PyObject *data = args[0];
    if (!PyBytes_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "unprotect: data must be bytes");
        return NULL;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(data);
    if (n < 12 || n > 0x10000) {
        self->refused++;
        Py_RETURN_NONE;
    }
    /* A new bytes object nobody else sees yet: libsrtp decrypts in place, then it is shrunk to
     * the clear length (the tag and any MKI dropped). */
    PyObject *out = PyBytes_FromStringAndSize(PyBytes_AS_STRING(data), n);
    if (out == NULL)
        return NULL;
    int len = (int)n;
    if (self->fn(self->ctx, PyBytes_AS_STRING(out), &len) != 0 || len < 12 || len > n) {
        Py_DECREF(out);
        self->refused++;
        Py_RETURN_NONE;
    }
    if (len != n && _PyBytes_Resize(&out, len) < 0)
        return NULL;
    return out;
}

static PyObject *unprotector_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"function", "ctx", "owner", NULL};
    PyObject *fn_obj, *ctx_obj, *owner;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO", kwlist, &fn_obj, &ctx_obj, &owner))
        return NULL;
    void *fn = PyLong_AsVoidPtr(fn_obj);
    if (fn == NULL && PyErr_Occurred())
        return NULL;
    void *ctx = PyLong_AsVoidPtr(ctx_obj);
    if (ctx == NULL && PyErr_Occurred())
        return NULL;
    if (fn == NULL || ctx == NULL) {
        PyErr_SetString(PyExc_ValueError, "Unprotector: the function's and the session's addresses");
        return NULL;
    }
    Unprotector *self = (Unprotector *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->fn = (unprotect_fn)fn;
    self->ctx = ctx;
    Py_INCREF(owner);
    self->owner = owner;
    self->vectorcall = (vectorcallfunc)unprotector_call;
    return (PyObject *)self;
}

static int unprotector_traverse(Unprotector *self, visitproc visit, void *arg) {
    Py_VISIT(self->owner);
    return 0;
}

static int unprotector_clear(Unprotector *self) {
    /* owner keeps ctx valid: once it is gone the object can no longer be called safely. */
    self->ctx = NULL;
    Py_CLEAR(self->owner);
    return 0;
}

static void unprotector_dealloc(Unprotector *self) {
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->owner);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *unprotector_refused(Unprotector *self, void *closure) {
    (void)closure;
    return PyLong_FromUnsignedLongLong(self->refused);
}

static PyGetSetDef unprotector_getset[] = {
    {"refused", (getter)unprotector_refused, NULL, "datagrams libsrtp refused (dropped)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject UnprotectorType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "realtime.media._dataplane.Unprotector",
    .tp_basicsize = sizeof(Unprotector),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(Unprotector, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = unprotector_new,
    .tp_dealloc = (destructor)unprotector_dealloc,
    .tp_traverse = (traverseproc)unprotector_traverse,
    .tp_clear = (inquiry)unprotector_clear,
    .tp_getset = unprotector_getset,
    .tp_doc = "Unprotector(srtp_unprotect address, srtp_t address, owner): an inbound SRTP session's unprotect",
};

/* ---- parse_rtp ---------------------------------------------------------------------------- */

/* Attribute names, interned once. */
enum {
    A_VERSION, A_MARKER, A_PAYLOAD_TYPE, A_SEQUENCE_NUMBER, A_TIMESTAMP, A_SSRC, A_CSRC, A_EXTENSIONS, A_PAYLOAD,
    A_PADDING_SIZE,
    /* HeaderExtensions' fields, in its dataclass order */
    X_ABS_SEND_TIME, X_AUDIO_LEVEL, X_MID, X_REPAIRED_RID, X_RID, X_TOFFSET, X_TSN,
    N_NAMES
};
static const char *const names_text[N_NAMES] = {
    "version", "marker", "payload_type", "sequence_number", "timestamp", "ssrc", "csrc", "extensions", "payload",
    "padding_size", "abs_send_time", "audio_level", "mid", "repaired_rtp_stream_id", "rtp_stream_id",
    "transmission_offset", "transport_sequence_number",
};
static PyObject *names[N_NAMES];

/* The order HeaderExtensionsMap.get tests the ids in (the first match wins). */
static const int match_order[7] = {X_MID, X_REPAIRED_RID, X_RID, X_ABS_SEND_TIME, X_TOFFSET, X_AUDIO_LEVEL, X_TSN};

static PyObject *value_error(const char *message) {
    PyErr_SetString(PyExc_ValueError, message);
    return NULL;
}

/* One extension element's value, decoded as HeaderExtensionsMap.get does for the field it is
 * the id of; a new reference, or NULL with an exception. */
static PyObject *decode_extension(int field, const unsigned char *v, Py_ssize_t n) {
    switch (field) {
    case X_MID:
        return PyUnicode_DecodeUTF8((const char *)v, n, NULL);
    case X_REPAIRED_RID:
    case X_RID:
        return PyUnicode_DecodeASCII((const char *)v, n, NULL);
    case X_ABS_SEND_TIME:
        if (n != 3)
            return value_error("RTP abs-send-time extension must be 3 bytes");
        return PyLong_FromUnsignedLong(((unsigned long)v[0] << 16) | ((unsigned long)v[1] << 8) | v[2]);
    case X_TOFFSET: {
        if (n != 3)
            return value_error("RTP transmission offset extension must be 3 bytes");
        long value = (long)(((unsigned long)v[0] << 16) | ((unsigned long)v[1] << 8) | v[2]);
        if (value & 0x800000) /* 24-bit two's complement, as unpack("!l", x + b"\0") >> 8 */
            value -= 0x1000000;
        return PyLong_FromLong(value);
    }
    case X_AUDIO_LEVEL: {
        if (n != 1)
            return value_error("RTP audio level extension must be 1 byte");
        PyObject *voice = PyBool_FromLong(v[0] & 0x80);
        PyObject *level = PyLong_FromLong(v[0] & 0x7F);
        PyObject *pair = (voice && level) ? PyTuple_Pack(2, voice, level) : NULL;
        Py_XDECREF(voice);
        Py_XDECREF(level);
        return pair;
    }
    case X_TSN:
        if (n != 2)
            return value_error("RTP transport sequence number extension must be 2 bytes");
        return PyLong_FromLong(((long)v[0] << 8) | v[1]);
    }
    PyErr_SetString(PyExc_SystemError, "decode_extension: unknown field");
    return NULL;
}

/* The extension ids (None or an int) from the map's HeaderExtensions; -1 for None. 0, or -1
 * with an exception. */
static int read_ids(PyObject *ids, long out[N_NAMES]) {
    for (int i = 0; i < 7; i++) {
        int field = match_order[i];
        PyObject *id = PyObject_GetAttr(ids, names[field]);
        if (id == NULL)
            return -1;
        if (id == Py_None) {
            out[field] = -1;
        } else {
            out[field] = PyLong_AsLong(id);
            if (out[field] == -1 && PyErr_Occurred()) {
                Py_DECREF(id);
                return -1;
            }
        }
        Py_DECREF(id);
    }
    return 0;
}

/* values[field] set for the element (x_id, v[:n]) when x_id is one of the ids: 0, or -1. */
static int take_extension(const long idv[N_NAMES], PyObject *values[N_NAMES], long x_id, const unsigned char *v,
                          Py_ssize_t n) {
    for (int i = 0; i < 7; i++) {
        int field = match_order[i];
        if (idv[field] == x_id) {
            PyObject *value = decode_extension(field, v, n);
            if (value == NULL)
                return -1;
            Py_XSETREF(values[field], value);
            return 0;
        }
    }
    return 0;
}

/* RFC 8285 one-byte (0xBEDE) and two-byte (0x1000) elements, as unpack_header_extensions: the
 * whole block is checked first (decode = 0), then the elements decoded (decode = 1), so a
 * malformed packet raises what aiortc raises first. */
static int walk_extensions(const long idv[N_NAMES], PyObject *values[N_NAMES], unsigned long profile,
                           const unsigned char *x, Py_ssize_t len, int decode) {
    Py_ssize_t pos = 0;
    int two_byte = profile == 0x1000;
    if (profile != 0xBEDE && !two_byte)
        return 0;
    while (pos < len) {
        if (x[pos] == 0) { /* padding */
            pos++;
            continue;
        }
        long x_id;
        Py_ssize_t x_length;
        if (two_byte) {
            if (len < pos + 2) {
                value_error("RTP two-byte header extension is truncated");
                return -1;
            }
            x_id = x[pos];
            x_length = x[pos + 1];
            pos += 2;
        } else {
            x_id = (x[pos] & 0xF0) >> 4;
            x_length = (x[pos] & 0x0F) + 1;
            pos++;
        }
        if (len < pos + x_length) {
            value_error(two_byte ? "RTP two-byte header extension value is truncated"
                                 : "RTP one-byte header extension value is truncated");
            return -1;
        }
        if (decode && take_extension(idv, values, x_id, x + pos, x_length) < 0)
            return -1;
        pos += x_length;
    }
    return 0;
}

/* A new instance of type without running its __init__ (object.__new__(type)). */
static PyObject *bare_instance(PyObject *type_obj) {
    if (!PyType_Check(type_obj)) {
        PyErr_SetString(PyExc_TypeError, "parse_rtp: packet_type and extensions_type must be classes");
        return NULL;
    }
    PyTypeObject *type = (PyTypeObject *)type_obj;
    PyObject *empty = PyTuple_New(0);
    if (empty == NULL)
        return NULL;
    PyObject *obj = type->tp_new(type, empty, NULL);
    Py_DECREF(empty);
    return obj;
}

/* Sets obj.<names[first..last]> = values[first..last] (steals the values): 0, or -1. */
static int set_fields(PyObject *obj, PyObject *values[N_NAMES], int first, int last) {
    int rc = 0;
    for (int i = first; i <= last; i++) {
        if (rc == 0 && PyObject_SetAttr(obj, names[i], values[i]) < 0)
            rc = -1;
        Py_CLEAR(values[i]);
    }
    return rc;
}

/* parse_rtp(data, ids, packet_type, extensions_type) -> packet */
static PyObject *parse_rtp(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "parse_rtp(data, ids, packet_type, extensions_type)");
        return NULL;
    }
    PyObject *data = args[0];
    if (!PyBytes_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "parse_rtp: data must be bytes");
        return NULL;
    }
    const unsigned char *d = (const unsigned char *)PyBytes_AS_STRING(data);
    Py_ssize_t n = PyBytes_GET_SIZE(data);
    if (n < 12)
        return value_error("RTP packet length is less than 12 bytes");
    if ((d[0] >> 6) != 2)
        return value_error("RTP packet has invalid version");
    int padding = (d[0] >> 5) & 1, extension = (d[0] >> 4) & 1, cc = d[0] & 0x0F;
    if (n < 12 + 4 * cc)
        return value_error("RTP packet has truncated CSRC");
    Py_ssize_t pos = 12 + 4 * cc;

    PyObject *values[N_NAMES] = {NULL};
    PyObject *packet = NULL, *extensions = NULL;
    long idv[N_NAMES];
    unsigned long profile = 0;
    const unsigned char *x = NULL;
    Py_ssize_t xlen = 0;
    if (extension) {
        if (n < pos + 4) {
            value_error("RTP packet has truncated extension profile / length");
            goto fail;
        }
        profile = ((unsigned long)d[pos] << 8) | d[pos + 1];
        xlen = (((Py_ssize_t)d[pos + 2] << 8) | d[pos + 3]) * 4;
        pos += 4;
        if (n < pos + xlen) {
            value_error("RTP packet has truncated extension value");
            goto fail;
        }
        x = d + pos;
        pos += xlen;
    }
    extensions = bare_instance(args[3]);
    if (extensions == NULL)
        goto fail;
    for (int i = X_ABS_SEND_TIME; i <= X_TSN; i++) {
        values[i] = Py_None;
        Py_INCREF(Py_None);
    }
    if (extension) {
        if (walk_extensions(NULL, NULL, profile, x, xlen, 0) < 0 || read_ids(args[1], idv) < 0 ||
            walk_extensions(idv, values, profile, x, xlen, 1) < 0)
            goto fail;
    }
    if (set_fields(extensions, values, X_ABS_SEND_TIME, X_TSN) < 0)
        goto fail;
    Py_ssize_t end = n, padding_size = 0;
    if (padding) {
        padding_size = d[n - 1];
        if (!padding_size || padding_size > n - pos) {
            value_error("RTP packet padding length is invalid");
            goto fail;
        }
        end = n - padding_size;
    }

    values[A_VERSION] = PyLong_FromLong(2);
    values[A_MARKER] = PyLong_FromLong(d[1] >> 7);
    values[A_PAYLOAD_TYPE] = PyLong_FromLong(d[1] & 0x7F);
    values[A_SEQUENCE_NUMBER] = PyLong_FromLong(((long)d[2] << 8) | d[3]);
    values[A_TIMESTAMP] = PyLong_FromUnsignedLong(((unsigned long)d[4] << 24) | ((unsigned long)d[5] << 16) |
                                                  ((unsigned long)d[6] << 8) | d[7]);
    values[A_SSRC] = PyLong_FromUnsignedLong(((unsigned long)d[8] << 24) | ((unsigned long)d[9] << 16) |
                                             ((unsigned long)d[10] << 8) | d[11]);
    values[A_CSRC] = PyList_New(cc);
    if (values[A_CSRC] != NULL) {
        for (int i = 0; i < cc; i++) {
            const unsigned char *c = d + 12 + 4 * i;
            PyObject *csrc = PyLong_FromUnsignedLong(((unsigned long)c[0] << 24) | ((unsigned long)c[1] << 16) |
                                                     ((unsigned long)c[2] << 8) | c[3]);
            if (csrc == NULL) {
                Py_CLEAR(values[A_CSRC]);
                break;
            }
            PyList_SET_ITEM(values[A_CSRC], i, csrc);
        }
    }
    values[A_EXTENSIONS] = extensions;
    extensions = NULL;
    values[A_PAYLOAD] = PyBytes_FromStringAndSize((const char *)d + pos, end - pos);
    values[A_PADDING_SIZE] = PyLong_FromSsize_t(padding_size);
    for (int i = A_VERSION; i <= A_PADDING_SIZE; i++) {
        if (values[i] == NULL)
            goto fail;
    }
    packet = bare_instance(args[2]);
    if (packet == NULL)
        goto fail;
    if (set_fields(packet, values, A_VERSION, A_PADDING_SIZE) < 0)
        goto fail;
    return packet;

fail:
    for (int i = 0; i < N_NAMES; i++)
        Py_XDECREF(values[i]);
    Py_XDECREF(extensions);
    Py_XDECREF(packet);
    return NULL;
}

int dp_receive_add_types(PyObject *module) {
    for (int i = 0; i < N_NAMES; i++) {
        if (names[i] == NULL && (names[i] = PyUnicode_InternFromString(names_text[i])) == NULL)
            return -1;
    }
    static PyMethodDef parse_def = {"parse_rtp", (PyCFunction)(void (*)(void))parse_rtp, METH_FASTCALL,
                                    "parse_rtp(data, ids, packet_type, extensions_type) -> packet: "
                                    "aiortc's RtpPacket.parse in C"};
    return dp_add_type(module, "Unprotector", &UnprotectorType) < 0 || dp_add_function(module, &parse_def) < 0 ? -1
                                                                                                              : 0;
}
