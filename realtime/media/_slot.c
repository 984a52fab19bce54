/* SlotCore: a subscriber slot's per-packet state and its forward, in C (the base of
 * realtime/media/forwarding.py's SlotTrack; forwarding.PySlotCore is the same in Python, used
 * without the extension and as the reference its tests compare this one against).
 *
 * forward(seq, ts, marker, payload, keyframe, now) is one publisher packet for this slot: a
 * video slot waits for a key frame after a switch (and asks for one), the first packet after a
 * switch re-bases the output timeline (sequence numbers continuous, timestamps advanced by a
 * frame or by the wall-clock pause), packets from before the switch or the reorder window are
 * dropped, the packet goes into the NACK history and out through the slot's emitter. With a
 * LegEmit (the sending thread) the header, payload and SRTP protect go straight into the ring
 * without a Python call; any other emitter is called with the seven values. Binding to the
 * subscriber's transport (_bind) and re-reading a re-nominated ICE pair (_rebind) stay in
 * Python: they run once per connection or path change.
 */
#include "_dataplane.h"

#include <math.h>
#include <stdint.h>
#include <structmember.h>

#define REORDER_WINDOW 1024 /* late packets (RTX) forwarded up to this far behind the newest */

typedef struct {
    PyObject *payload; /* the publisher's bytes, shared by every slot; NULL: empty */
    uint32_t seq;
    uint32_t ts;
    uint32_t marker;
} entry_t;

typedef struct {
    PyObject_HEAD
    /* state, exposed under the names PySlotCore uses */
    char waiting_keyframe;
    char bound;
    char has_base;
    unsigned int base, highest, seq_offset, ts_offset;
    unsigned int last_seq, last_ts;
    double last_time;
    unsigned int clock, step;
    unsigned long long packets_sent, octets_sent, packets_dropped;
    unsigned int b0, pt, ssrc;
    PyObject *ext; /* bytes */
    PyObject *emit, *pair, *nominated, *need_keyframe;
    entry_t *history;
    unsigned int mask;
} SlotCore;

static PyObject *str_bind, *str_rebind, *str_get, *int_one;

static int slot_traverse(SlotCore *self, visitproc visit, void *arg) {
    Py_VISIT(self->ext);
    Py_VISIT(self->emit);
    Py_VISIT(self->pair);
    Py_VISIT(self->nominated);
    Py_VISIT(self->need_keyframe);
    return 0;
}

static int slot_clear(SlotCore *self) {
    Py_CLEAR(self->ext);
    Py_CLEAR(self->emit);
    Py_CLEAR(self->pair);
    Py_CLEAR(self->nominated);
    Py_CLEAR(self->need_keyframe);
    return 0;
}

static void history_free(SlotCore *self) {
    if (self->history == NULL)
        return;
    for (unsigned int i = 0; i <= self->mask; i++)
        Py_XDECREF(self->history[i].payload);
    PyMem_Free(self->history);
    self->history = NULL;
}

static void slot_dealloc(SlotCore *self) {
    PyObject_GC_UnTrack(self);
    slot_clear(self);
    history_free(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* SlotCore(video, history, clock, step): history is the NACK history's length (a power of two),
 * clock the RTP clock rate, step the timestamp step inserted at a switch (one frame). */
static int slot_init(SlotCore *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"video", "history", "clock", "step", NULL};
    int video;
    unsigned int history, clock, step;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "pIII", kwlist, &video, &history, &clock, &step))
        return -1;
    if (history < 1 || history > (1u << 16) || (history & (history - 1))) {
        PyErr_SetString(PyExc_ValueError, "history must be a power of two up to 65536");
        return -1;
    }
    entry_t *entries = PyMem_Calloc(history, sizeof(entry_t));
    if (entries == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    history_free(self);
    self->history = entries;
    self->mask = history - 1;
    self->clock = clock;
    self->step = step;
    self->waiting_keyframe = (char)video;
    self->bound = 0;
    self->has_base = 0;
    self->base = self->highest = self->seq_offset = self->ts_offset = 0;
    self->last_seq = self->last_ts = 0;
    self->last_time = 0.0;
    self->packets_sent = self->octets_sent = self->packets_dropped = 0;
    self->b0 = 0x80;
    self->pt = self->ssrc = 0;
    Py_XSETREF(self->ext, PyBytes_FromStringAndSize(NULL, 0));
    Py_XSETREF(self->nominated, PyDict_New());
    if (self->ext == NULL || self->nominated == NULL)
        return -1;
    return 0;
}

/* Calls a method of self that returns a truth value: 1, 0, or -1 with an exception. */
static int call_truth(SlotCore *self, PyObject *name) {
    PyObject *r = PyObject_CallMethodNoArgs((PyObject *)self, name);
    if (r == NULL)
        return -1;
    int truth = PyObject_IsTrue(r);
    Py_DECREF(r);
    return truth;
}

/* ICE still sends on the pair the slot was bound to (nominated.get(1) is pair; a missing one
 * and a NULL pair both read as None, as in Python): 1, 0, -1. */
static int pair_current(SlotCore *self) {
    PyObject *pair = self->pair != NULL ? self->pair : Py_None;
    if (self->nominated != NULL && PyDict_CheckExact(self->nominated)) {
        PyObject *current = PyDict_GetItemWithError(self->nominated, int_one); /* borrowed */
        if (current == NULL && PyErr_Occurred())
            return -1;
        return (current != NULL ? current : Py_None) == pair;
    }
    if (self->nominated == NULL) {
        PyErr_SetString(PyExc_AttributeError, "_nominated");
        return -1;
    }
    PyObject *current = PyObject_CallMethodOneArg(self->nominated, str_get, int_one);
    if (current == NULL)
        return -1;
    int same = current == pair;
    Py_DECREF(current);
    return same;
}

static int emit_packet(SlotCore *self, unsigned int b1, unsigned int seq, unsigned int ts, PyObject *payload) {
    if (self->emit == NULL)
        return 0;
    if (dp_is_legemit(self->emit))
        return dp_legemit_send(self->emit, self->b0, b1, seq, ts, self->ssrc, PyBytes_AS_STRING(self->ext),
                               PyBytes_GET_SIZE(self->ext), PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload));
    PyObject *args[7] = {PyLong_FromUnsignedLong(self->b0),
                         PyLong_FromUnsignedLong(b1),
                         PyLong_FromUnsignedLong(seq),
                         PyLong_FromUnsignedLong(ts),
                         PyLong_FromUnsignedLong(self->ssrc),
                         self->ext,
                         payload};
    PyObject *r = NULL;
    if (args[0] && args[1] && args[2] && args[3] && args[4])
        r = PyObject_Vectorcall(self->emit, args, 7, NULL);
    for (int i = 0; i < 5; i++)
        Py_XDECREF(args[i]);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 1;
}

typedef struct {
    unsigned int seq, ts, marker;
    PyObject *payload;
    int keyframe;
    double now;
} packet_t;

/* The six arguments of forward/fanout read and checked: 0, or -1 with a TypeError. */
static int packet_args(PyObject *const *args, packet_t *p) {
    unsigned long seq = PyLong_AsUnsignedLongMask(args[0]);
    if (seq == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    unsigned long ts = PyLong_AsUnsignedLongMask(args[1]);
    if (ts == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    int marker = PyObject_IsTrue(args[2]);
    if (marker < 0)
        return -1;
    if (!PyBytes_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "forward: payload must be bytes");
        return -1;
    }
    int keyframe = PyObject_IsTrue(args[4]);
    if (keyframe < 0)
        return -1;
    double now = PyFloat_AsDouble(args[5]);
    if (now == -1.0 && PyErr_Occurred())
        return -1;
    p->seq = (unsigned int)(seq & 0xFFFF);
    p->ts = (unsigned int)(ts & 0xFFFFFFFFu);
    p->marker = (unsigned int)marker;
    p->payload = args[3];
    p->keyframe = keyframe;
    p->now = now;
    return 0;
}

/* One publisher packet for this slot (forward's and fanout's work): 0, or -1 with an exception. */
static int forward(SlotCore *self, const packet_t *p) {
    unsigned int seq = p->seq, ts = p->ts, marker = p->marker;
    PyObject *payload = p->payload;
    double now = p->now;
    if (self->history == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "SlotCore.__init__ was not called");
        return -1;
    }
    if (!self->bound) {
        int ok = call_truth(self, str_bind);
        if (ok < 0)
            return -1;
        if (!ok) {
            self->packets_dropped++; /* the subscriber's DTLS is not up yet */
            return 0;
        }
    }
    if (self->waiting_keyframe) {
        if (!p->keyframe) {
            self->packets_dropped++;
            if (self->need_keyframe != NULL && self->need_keyframe != Py_None) {
                PyObject *r = PyObject_CallNoArgs(self->need_keyframe);
                if (r == NULL)
                    return -1;
                Py_DECREF(r);
            }
            return 0;
        }
        self->waiting_keyframe = 0;
    }
    if (!self->has_base) {
        int64_t step = self->step;
        if (self->last_time != 0.0) {
            double pause = nearbyint((now - self->last_time) * (double)self->clock); /* round half even */
            if (pause > (double)step && pause < 9.0e18)
                step = (int64_t)pause;
        }
        self->has_base = 1;
        self->base = self->highest = seq;
        self->seq_offset = (self->last_seq + 1 - seq) & 0xFFFF;
        self->ts_offset = (uint32_t)((uint64_t)self->last_ts + (uint64_t)step - ts);
    } else if ((seq - self->base) & 0x8000) {
        return 0; /* older than the switch to this source (or than the reorder window) */
    } else if (!((seq - self->highest) & 0x8000)) {
        self->highest = seq;
        if (((seq - self->base) & 0xFFFF) > REORDER_WINDOW * 2) /* keep the window sliding */
            self->base = (seq - REORDER_WINDOW) & 0xFFFF;
    }
    unsigned int out_seq = (seq + self->seq_offset) & 0xFFFF;
    unsigned int out_ts = (uint32_t)(ts + self->ts_offset);
    if (!((out_seq - self->last_seq) & 0x8000))
        self->last_seq = out_seq;
    self->last_ts = out_ts;
    self->last_time = now;
    entry_t *entry = &self->history[out_seq & self->mask];
    Py_INCREF(payload);
    Py_XSETREF(entry->payload, payload);
    entry->seq = out_seq;
    entry->ts = out_ts;
    entry->marker = marker;
    self->packets_sent++;
    self->octets_sent += (unsigned long long)PyBytes_GET_SIZE(payload);
    int current = pair_current(self);
    if (current < 0)
        return -1;
    if (!current) {
        int ok = call_truth(self, str_rebind); /* ICE nominated another pair, or closed */
        if (ok <= 0)
            return ok;
    }
    return emit_packet(self, (marker << 7) | self->pt, out_seq, out_ts, payload);
}

/* forward(seq, ts, marker, payload, keyframe, now) -> None */
static PyObject *slot_forward(SlotCore *self, PyObject *const *args, Py_ssize_t nargs) {
    packet_t p;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "forward(seq, ts, marker, payload, keyframe, now)");
        return NULL;
    }
    if (packet_args(args, &p) < 0 || forward(self, &p) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyTypeObject SlotCoreType;
static PyObject *str_forward, *core_forward; /* "forward", SlotCore's own method descriptor */

/* fanout(slots, seq, ts, marker, payload, keyframe, now) -> None: every slot's forward for one
 * publisher packet, in one call (the publication's loop over its slots). A slot whose class
 * overrides forward, or that is no SlotCore, gets its own forward called. */
static PyObject *slot_fanout(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    packet_t p;
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "fanout(slots, seq, ts, marker, payload, keyframe, now)");
        return NULL;
    }
    if (packet_args(args + 1, &p) < 0)
        return NULL;
    PyObject *iter = PyObject_GetIter(args[0]);
    if (iter == NULL)
        return NULL;
    PyObject *slot;
    while ((slot = PyIter_Next(iter)) != NULL) {
        int rc;
        PyTypeObject *type = Py_TYPE(slot);
        if (PyType_IsSubtype(type, &SlotCoreType) && _PyType_Lookup(type, str_forward) == core_forward) {
            rc = forward((SlotCore *)slot, &p);
        } else {
            PyObject *r = PyObject_VectorcallMethod(str_forward, (PyObject *[]){slot, args[1], args[2], args[3],
                                                                               args[4], args[5], args[6]},
                                                    7, NULL);
            rc = r == NULL ? -1 : 0;
            Py_XDECREF(r);
        }
        Py_DECREF(slot);
        if (rc < 0) {
            Py_DECREF(iter);
            return NULL;
        }
    }
    Py_DECREF(iter);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

/* _history_entry(seq) -> (seq, ts, marker, payload) | None: what was sent as seq, if still kept */
static PyObject *slot_history_entry(SlotCore *self, PyObject *arg) {
    unsigned long seq = PyLong_AsUnsignedLongMask(arg);
    if (seq == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    if (self->history == NULL)
        Py_RETURN_NONE;
    entry_t *entry = &self->history[seq & self->mask];
    if (entry->payload == NULL || entry->seq != seq)
        Py_RETURN_NONE;
    return Py_BuildValue("(IIIO)", entry->seq, entry->ts, entry->marker, entry->payload);
}

static PyObject *get_base(SlotCore *self, void *closure) {
    (void)closure;
    if (!self->has_base)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLong(self->base);
}

static int set_base(SlotCore *self, PyObject *value, void *closure) {
    (void)closure;
    if (value == NULL || value == Py_None) {
        self->has_base = 0;
        return 0;
    }
    unsigned long base = PyLong_AsUnsignedLongMask(value);
    if (base == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    self->base = (unsigned int)(base & 0xFFFF);
    self->has_base = 1;
    return 0;
}

static PyObject *get_ext(SlotCore *self, void *closure) {
    (void)closure;
    return Py_NewRef(self->ext);
}

static int set_ext(SlotCore *self, PyObject *value, void *closure) {
    (void)closure;
    if (value == NULL || !PyBytes_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "_ext must be bytes");
        return -1;
    }
    Py_INCREF(value);
    Py_XSETREF(self->ext, value);
    return 0;
}

static PyGetSetDef slot_getset[] = {
    {"_base", (getter)get_base, (setter)set_base, "input sequence number of the switch (None: re-base)", NULL},
    {"_ext", (getter)get_ext, (setter)set_ext, "the header extension block of the subscriber's sender", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

#define M(name, type, field, flags) {name, type, offsetof(SlotCore, field), flags, NULL}
static PyMemberDef slot_members[] = {
    M("_waiting_keyframe", T_BOOL, waiting_keyframe, 0),
    M("_bound", T_BOOL, bound, 0),
    M("_highest", T_UINT, highest, 0),
    M("_seq_offset", T_UINT, seq_offset, 0),
    M("_ts_offset", T_UINT, ts_offset, 0),
    M("_last_seq", T_UINT, last_seq, 0),
    M("_last_ts", T_UINT, last_ts, 0),
    M("_last_time", T_DOUBLE, last_time, 0),
    M("_clock", T_UINT, clock, READONLY),
    M("_mask", T_UINT, mask, READONLY),
    M("packets_sent", T_ULONGLONG, packets_sent, 0),
    M("octets_sent", T_ULONGLONG, octets_sent, 0),
    M("packets_dropped", T_ULONGLONG, packets_dropped, 0),
    M("_b0", T_UINT, b0, 0),
    M("_pt", T_UINT, pt, 0),
    M("_ssrc", T_UINT, ssrc, 0),
    M("_emit", T_OBJECT, emit, 0),
    M("_pair", T_OBJECT, pair, 0),
    M("_nominated", T_OBJECT, nominated, 0),
    M("need_keyframe", T_OBJECT, need_keyframe, 0),
    {NULL, 0, 0, 0, NULL},
};
#undef M

static PyMethodDef slot_methods[] = {
    {"forward", (PyCFunction)(void (*)(void))slot_forward, METH_FASTCALL,
     "forward(seq, ts, marker, payload, keyframe, now): one publisher packet for this slot"},
    {"_history_entry", (PyCFunction)slot_history_entry, METH_O,
     "_history_entry(seq) -> (seq, ts, marker, payload) or None"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SlotCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "realtime.media._dataplane.SlotCore",
    .tp_basicsize = sizeof(SlotCore),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)slot_init,
    .tp_dealloc = (destructor)slot_dealloc,
    .tp_traverse = (traverseproc)slot_traverse,
    .tp_clear = (inquiry)slot_clear,
    .tp_methods = slot_methods,
    .tp_members = slot_members,
    .tp_getset = slot_getset,
    .tp_doc = "SlotCore(video, history, clock, step): a subscriber slot's per-packet state and forward.",
};

int dp_slot_add_types(PyObject *module) {
    str_bind = PyUnicode_InternFromString("_bind");
    str_rebind = PyUnicode_InternFromString("_rebind");
    str_get = PyUnicode_InternFromString("get");
    str_forward = PyUnicode_InternFromString("forward");
    int_one = PyLong_FromLong(1);
    if (str_bind == NULL || str_rebind == NULL || str_get == NULL || int_one == NULL)
        return -1;
    if (str_forward == NULL || PyType_Ready(&SlotCoreType) < 0)
        return -1;
    core_forward = PyDict_GetItemWithError(SlotCoreType.tp_dict, str_forward); /* borrowed, lives as the type */
    if (core_forward == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "SlotCore has no forward");
        return -1;
    }
    static PyMethodDef fanout_def = {"fanout", (PyCFunction)(void (*)(void))slot_fanout, METH_FASTCALL,
                                     "fanout(slots, seq, ts, marker, payload, keyframe, now): every slot's forward"};
    return dp_add_type(module, "SlotCore", &SlotCoreType) < 0 || dp_add_function(module, &fanout_def) < 0 ? -1 : 0;
}
