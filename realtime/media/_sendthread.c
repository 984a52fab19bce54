/* The SFU's sending thread: forwarded RTP datagrams sent by a thread of their own, without the GIL.
 *
 * The event loop rewrites and SRTP-protects every forwarded packet (realtime/media/hooks.py)
 * and then, instead of calling sendto itself, copies the datagram into this ring. A POSIX
 * thread that never touches Python objects takes the datagrams off the ring in order and
 * sends them. On loopback, and to a lesser degree on a NIC, sendto is the largest part of a
 * forwarded packet's cost (the kernel's UDP send, and on loopback the receiver's side of it
 * too); done here it runs on the other core while the event loop goes on with the room's
 * signalling, chat and the next packets.
 *
 * Single producer (calls hold the GIL, so pushes are serialised), single consumer (the
 * thread): a lock-free ring with atomic head and tail; the thread sleeps on a futex when the
 * ring is empty and `flush` wakes it: one system call on each side, no mutex (a condition
 * variable's mutex cost the waker a second system call whenever the woken thread found it
 * still held). Per datagram the two sides touch no
 * shared cache line but the item itself: head and tail live on lines of their own, each side
 * keeps its own copy of the other's index and re-reads it only when the ring looks full
 * (producer) or empty (consumer), the indices are published with release/acquire (plain moves
 * on x86), and a forked child is recognised by a fork generation (pthread_atfork) instead of
 * a getpid() system call per datagram.
 *
 * A Leg is one destination: a dup() of the ICE socket's descriptor and the remote address.
 * When the Leg object dies while the thread runs, a release item is queued behind the leg's
 * last datagrams and the thread closes the descriptor when it reaches it: the descriptor stays
 * open (and is never a reused number pointing at another socket) until the last datagram for
 * it is sent, without a reference count touched by both threads for every datagram.
 */
#include "_dataplane.h"
#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define DATAGRAM_MAX 1500
#define SRTP_TRAILER_MAX 144 /* pylibsrtp's SRTP_MAX_TRAILER_LEN: room libsrtp may append */

/* libsrtp's srtp_protect(srtp_t, void *rtp, int *len) -> srtp_err_status_t, as linked into
 * pylibsrtp: its address comes from Python (set_protect), so this module links no libsrtp. */
typedef int (*protect_fn)(void *ctx, void *rtp, int *len);
static protect_fn srtp_protect_fn = NULL;

typedef struct {
    int fd;
    socklen_t alen;
    struct sockaddr_storage addr;
    void *srtp; /* the leg's SRTP session (srtp_t) for emit; used on the producer's thread only */
} leg_t;

static void leg_free(leg_t *leg) {
    close(leg->fd);
    PyMem_RawFree(leg);
}

/* An item of this length is no datagram: the thread frees its leg (queued by leg_dealloc). */
#define RELEASE_ITEM 0xFFFFFFFFu

typedef struct {
    unsigned char data[DATAGRAM_MAX + 4]; /* first: 16-byte aligned for libsrtp's header words */
    unsigned int len;
    leg_t *leg;
} item_t;

typedef struct SendThread SendThread;

/* Incremented in every forked child: a SendThread started under another generation belongs to
 * the parent (whose thread does not exist in the child). */
static atomic_ulong fork_generation = 0;
static void on_fork_child(void) { atomic_fetch_add(&fork_generation, 1); }

#define CACHE_LINE 64

struct SendThread {
    PyObject_HEAD
    item_t *ring;
    size_t capacity; /* a power of two */
    atomic_int waiting; /* 1: the thread sleeps (or is about to) on this futex word */
    atomic_int stopping;
    pthread_t thread;
    int started;
    unsigned long generation; /* fork_generation when the thread was started */
    unsigned long long protect_errors;
    /* the producer's line: the next free slot, its last view of head, its counter */
    _Alignas(CACHE_LINE) atomic_size_t tail;
    size_t head_seen;
    atomic_ullong dropped;
    /* the consumer's line: the next item the thread sends, its counters */
    _Alignas(CACHE_LINE) atomic_size_t head;
    atomic_ullong sent;
    atomic_ullong send_errors;
    atomic_ullong wakeups;
};

/* The thread runs in this process (started, and not inherited through a fork). */
static inline int running_here(SendThread *self) {
    return self->started && self->generation == atomic_load_explicit(&fork_generation, memory_order_relaxed);
}

typedef struct {
    PyObject_HEAD
    leg_t *leg;
    PyObject *owner; /* keeps the SRTP session alive (pylibsrtp.Session) */
    SendThread *thread; /* frees the leg once its datagrams are sent */
} Leg;

static PyTypeObject LegType;

static void *sendthread_run(void *arg) {
    SendThread *self = (SendThread *)arg;
    size_t head = atomic_load_explicit(&self->head, memory_order_relaxed); /* only this thread writes it */
    /* counters kept across restarts (close, then a push) and inherited through a fork */
    unsigned long long sent = atomic_load(&self->sent), errors = atomic_load(&self->send_errors);
    for (;;) {
        size_t tail = atomic_load_explicit(&self->tail, memory_order_acquire);
        if (head == tail) {
            if (atomic_load(&self->stopping))
                break;
            /* waiting, then tail re-read (both seq_cst): a producer that published an item
             * either is seen here or sees waiting == 1 and wakes us (sendthread_wake); a wake
             * that comes first turns waiting back to 0 and FUTEX_WAIT returns at once. A timed
             * wait: a push whose flush never came is still sent within 50 ms. */
            atomic_store(&self->waiting, 1);
            if (atomic_load(&self->tail) == head && !atomic_load(&self->stopping)) {
                struct timespec timeout = {0, 50 * 1000 * 1000};
                syscall(SYS_futex, &self->waiting, FUTEX_WAIT_PRIVATE, 1, &timeout, NULL, 0);
            }
            atomic_store(&self->waiting, 0);
            atomic_store_explicit(&self->wakeups, atomic_load_explicit(&self->wakeups, memory_order_relaxed) + 1,
                                  memory_order_relaxed);
            continue;
        }
        size_t mask = self->capacity - 1;
        while (head != tail) {
            item_t *item = &self->ring[head & mask];
            leg_t *leg = item->leg;
            item->leg = NULL;
            if (item->len == RELEASE_ITEM) {
                leg_free(leg); /* every datagram queued for it before has been sent */
            } else {
                ssize_t n = sendto(leg->fd, item->data, item->len, MSG_DONTWAIT, (struct sockaddr *)&leg->addr,
                                   leg->alen);
                if (n < 0)
                    errors++;
                else
                    sent++;
            }
            head++;
            atomic_store_explicit(&self->head, head, memory_order_release); /* the slot is free again */
        }
        /* counters: written by this thread only, read by stats() */
        atomic_store_explicit(&self->sent, sent, memory_order_relaxed);
        atomic_store_explicit(&self->send_errors, errors, memory_order_relaxed);
    }
    return NULL;
}

static int sendthread_start(SendThread *self) {
    if (running_here(self))
        return 0;
    /* First use, or first use in a forked child (the parent's thread does not exist here). */
    atomic_store(&self->head, 0);
    atomic_store(&self->tail, 0);
    self->head_seen = 0;
    atomic_store(&self->waiting, 0);
    atomic_store(&self->stopping, 0);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_JOINABLE);
    int rc = pthread_create(&self->thread, &attr, sendthread_run, self);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        errno = rc;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    self->started = 1;
    self->generation = atomic_load(&fork_generation);
    return 0;
}

static void sendthread_wake(SendThread *self) {
    /* The tail was published with a release store; this fence orders it before the load of
     * waiting (the thread stores waiting, then re-reads tail): no wake-up is lost. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&self->waiting) && atomic_exchange(&self->waiting, 0))
        syscall(SYS_futex, &self->waiting, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static int sendthread_init(SendThread *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"capacity", NULL};
    Py_ssize_t capacity = 8192;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|n", kwlist, &capacity))
        return -1;
    if (self->ring != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "SendThread already initialised");
        return -1;
    }
    if (capacity < 2 || capacity > (1 << 20) || (capacity & (capacity - 1))) {
        PyErr_SetString(PyExc_ValueError, "capacity must be a power of two between 2 and 1048576");
        return -1;
    }
    self->ring = PyMem_RawCalloc((size_t)capacity, sizeof(item_t));
    if (self->ring == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->capacity = (size_t)capacity;
    return 0;
}

static void sendthread_stop(SendThread *self) {
    if (!running_here(self))
        return;
    atomic_store(&self->stopping, 1);
    sendthread_wake(self);
    Py_BEGIN_ALLOW_THREADS
    pthread_join(self->thread, NULL);
    Py_END_ALLOW_THREADS
    self->started = 0;
}

static void sendthread_dealloc(SendThread *self) {
    sendthread_stop(self);
    if (self->ring != NULL) {
        size_t mask = self->capacity - 1;
        for (size_t i = atomic_load(&self->head); i != atomic_load(&self->tail); i++) {
            if (self->ring[i & mask].leg != NULL && self->ring[i & mask].len == RELEASE_ITEM)
                leg_free(self->ring[i & mask].leg);
        }
        PyMem_RawFree(self->ring);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The leg passed as an argument, or NULL with a TypeError. */
static leg_t *arg_leg(PyObject *obj, const char *who) {
    if (!PyObject_TypeCheck(obj, &LegType)) {
        PyErr_Format(PyExc_TypeError, "%s: leg must be a SendThread leg", who);
        return NULL;
    }
    return ((Leg *)obj)->leg;
}

/* Room for one more item at tail: the producer's copy of head, re-read only when the ring
 * looks full. */
static int ring_has_room(SendThread *self, size_t tail) {
    if (tail - self->head_seen < self->capacity)
        return 1;
    self->head_seen = atomic_load_explicit(&self->head, memory_order_acquire);
    return tail - self->head_seen < self->capacity;
}

/* The ring's next free slot, the thread started first if this process has none yet. NULL:
 * with an exception set (the thread could not start), or with *full set (counted as dropped,
 * the thread woken to make room). */
static item_t *ring_slot(SendThread *self, int *full) {
    *full = 0;
    if (!running_here(self) && sendthread_start(self) < 0)
        return NULL;
    size_t tail = atomic_load_explicit(&self->tail, memory_order_relaxed); /* only this side writes it */
    if (!ring_has_room(self, tail)) {
        atomic_store_explicit(&self->dropped, atomic_load_explicit(&self->dropped, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        sendthread_wake(self);
        *full = 1;
        return NULL;
    }
    return &self->ring[tail & (self->capacity - 1)];
}

/* Hand the filled slot to the thread. */
static void ring_commit(SendThread *self, item_t *item, leg_t *leg, unsigned int len) {
    item->leg = leg;
    item->len = len;
    size_t tail = atomic_load_explicit(&self->tail, memory_order_relaxed) + 1;
    atomic_store_explicit(&self->tail, tail, memory_order_release); /* the item is the thread's now */
    if ((tail & 63) == 0) /* large bursts wake the thread before the burst's flush */
        sendthread_wake(self);
}

/* push(leg, buffer, length) -> bool: copies buffer[:length] into the ring; False if full. */
static PyObject *sendthread_push(SendThread *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "push(leg, buffer, length)");
        return NULL;
    }
    leg_t *leg = arg_leg(args[0], "push");
    if (leg == NULL)
        return NULL;
    Py_ssize_t length = PyLong_AsSsize_t(args[2]);
    if (length == -1 && PyErr_Occurred())
        return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[1], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (length < 0 || length > view.len || length > DATAGRAM_MAX) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "push: length out of range");
        return NULL;
    }
    int full;
    item_t *item = ring_slot(self, &full);
    if (item == NULL) {
        PyBuffer_Release(&view);
        if (full)
            Py_RETURN_FALSE;
        return NULL;
    }
    memcpy(item->data, view.buf, (size_t)length);
    PyBuffer_Release(&view);
    ring_commit(self, item, leg, (unsigned int)length);
    Py_RETURN_TRUE;
}

static inline void put32(unsigned char *p, unsigned long v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* One forwarded RTP packet built straight into the ring: the 12-byte header, the extension
 * block, the payload, then libsrtp protects it in place with the leg's session (on this, the
 * event loop's, thread: the session is never touched by the sending thread). 1: queued; 0: the
 * ring is full, the packet too long or libsrtp refused it (nothing queued); -1: exception. */
static int emit_packet(SendThread *self, leg_t *leg, unsigned long b0, unsigned long b1, unsigned long seq,
                       unsigned long ts, unsigned long ssrc, const char *ext, Py_ssize_t elen, const char *payload,
                       Py_ssize_t plen) {
    if (leg->srtp == NULL || srtp_protect_fn == NULL) {
        PyErr_SetString(PyExc_ValueError, "emit: the leg has no SRTP session (or set_protect was not called)");
        return -1;
    }
    Py_ssize_t n = 12 + elen + plen;
    if (n > DATAGRAM_MAX - SRTP_TRAILER_MAX)
        return 0;
    int full;
    item_t *item = ring_slot(self, &full);
    if (item == NULL)
        return full ? 0 : -1;
    unsigned char *d = item->data;
    d[0] = (unsigned char)b0;
    d[1] = (unsigned char)b1;
    d[2] = (unsigned char)(seq >> 8);
    d[3] = (unsigned char)seq;
    put32(d + 4, ts);
    put32(d + 8, ssrc);
    memcpy(d + 12, ext, (size_t)elen);
    memcpy(d + 12 + elen, payload, (size_t)plen);
    int len = (int)n;
    if (srtp_protect_fn(leg->srtp, d, &len) != 0 || len <= 0 || len > DATAGRAM_MAX) {
        self->protect_errors++;
        return 0;
    }
    ring_commit(self, item, leg, (unsigned int)len);
    return 1;
}

/* The seven values of an emit call (b0, b1, seq, timestamp, ssrc, extension, payload) checked
 * and read: 0, or -1 with a TypeError. */
static int emit_args(PyObject *const *args, unsigned long v[5]) {
    for (int i = 0; i < 5; i++) {
        v[i] = PyLong_AsUnsignedLongMask(args[i]);
        if (v[i] == (unsigned long)-1 && PyErr_Occurred())
            return -1;
    }
    if (!PyBytes_Check(args[5]) || !PyBytes_Check(args[6])) {
        PyErr_SetString(PyExc_TypeError, "emit: extension and payload must be bytes");
        return -1;
    }
    return 0;
}

/* emit(leg, b0, b1, seq, timestamp, ssrc, extension, payload) -> bool: emit_packet; False when
 * nothing was queued. */
static PyObject *sendthread_emit(SendThread *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "emit(leg, b0, b1, seq, timestamp, ssrc, extension, payload)");
        return NULL;
    }
    leg_t *leg = arg_leg(args[0], "emit");
    unsigned long v[5];
    if (leg == NULL || emit_args(args + 1, v) < 0)
        return NULL;
    int rc = emit_packet(self, leg, v[0], v[1], v[2], v[3], v[4], PyBytes_AS_STRING(args[6]),
                         PyBytes_GET_SIZE(args[6]), PyBytes_AS_STRING(args[7]), PyBytes_GET_SIZE(args[7]));
    if (rc < 0)
        return NULL;
    return PyBool_FromLong(rc);
}

/* A leg's emitter, SendThread.emitter(leg): called as emit(b0, b1, seq, timestamp, ssrc,
 * extension, payload) -> bool, and recognised by SlotCore, which sends through it without a
 * call. */
typedef struct {
    PyObject_HEAD
    SendThread *thread;
    Leg *leg;
    vectorcallfunc vectorcall;
} LegEmit;

static PyTypeObject LegEmitType;

int dp_is_legemit(PyObject *obj) { return Py_IS_TYPE(obj, &LegEmitType); }

int dp_legemit_send(PyObject *emitter, unsigned long b0, unsigned long b1, unsigned long seq, unsigned long ts,
                    unsigned long ssrc, const char *ext, Py_ssize_t elen, const char *payload, Py_ssize_t plen) {
    LegEmit *e = (LegEmit *)emitter;
    return emit_packet(e->thread, e->leg->leg, b0, b1, seq, ts, ssrc, ext, elen, payload, plen);
}

static PyObject *legemit_call(LegEmit *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 7 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "emit(b0, b1, seq, timestamp, ssrc, extension, payload)");
        return NULL;
    }
    unsigned long v[5];
    if (emit_args(args, v) < 0)
        return NULL;
    int rc = emit_packet(self->thread, self->leg->leg, v[0], v[1], v[2], v[3], v[4], PyBytes_AS_STRING(args[5]),
                         PyBytes_GET_SIZE(args[5]), PyBytes_AS_STRING(args[6]), PyBytes_GET_SIZE(args[6]));
    if (rc < 0)
        return NULL;
    return PyBool_FromLong(rc);
}

static void legemit_dealloc(LegEmit *self) {
    Py_XDECREF((PyObject *)self->leg);
    Py_XDECREF((PyObject *)self->thread);
    PyObject_Free(self);
}

static PyMemberDef legemit_members[] = {
    {"leg", T_OBJECT, offsetof(LegEmit, leg), READONLY, "the destination"},
    {"thread", T_OBJECT, offsetof(LegEmit, thread), READONLY, "the sending thread"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject LegEmitType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "realtime.media._dataplane.LegEmit",
    .tp_basicsize = sizeof(LegEmit),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(LegEmit, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_dealloc = (destructor)legemit_dealloc,
    .tp_members = legemit_members,
    .tp_doc = "emit(b0, b1, seq, timestamp, ssrc, extension, payload) -> bool: one RTP packet for a leg.",
};

/* emitter(leg) -> LegEmit */
static PyObject *sendthread_emitter(SendThread *self, PyObject *leg) {
    if (arg_leg(leg, "emitter") == NULL)
        return NULL;
    LegEmit *e = PyObject_New(LegEmit, &LegEmitType);
    if (e == NULL)
        return NULL;
    Py_INCREF(self);
    e->thread = self;
    Py_INCREF(leg);
    e->leg = (Leg *)leg;
    e->vectorcall = (vectorcallfunc)legemit_call;
    return (PyObject *)e;
}

static PyObject *sendthread_flush(SendThread *self, PyObject *Py_UNUSED(ignored)) {
    if (running_here(self))
        sendthread_wake(self);
    Py_RETURN_NONE;
}

static PyObject *sendthread_pending(SendThread *self, PyObject *Py_UNUSED(ignored)) {
    if (!running_here(self))
        return PyLong_FromLong(0);
    return PyLong_FromSize_t(atomic_load(&self->tail) - atomic_load(&self->head));
}

static PyObject *sendthread_stats(SendThread *self, PyObject *Py_UNUSED(ignored)) {
    size_t pending = 0;
    if (running_here(self))
        pending = atomic_load(&self->tail) - atomic_load(&self->head);
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:n,s:n,s:O}", "protect_errors", self->protect_errors, "sent", (unsigned long long)atomic_load(&self->sent),
                         "send_errors", (unsigned long long)atomic_load(&self->send_errors), "dropped",
                         (unsigned long long)atomic_load(&self->dropped), "wakeups",
                         (unsigned long long)atomic_load(&self->wakeups), "pending", (Py_ssize_t)pending,
                         "capacity", (Py_ssize_t)self->capacity, "running",
                         running_here(self) ? Py_True : Py_False);
}

static PyObject *sendthread_close(SendThread *self, PyObject *Py_UNUSED(ignored)) {
    /* Sends what is queued, then stops the thread (a later push starts it again). */
    sendthread_stop(self);
    Py_RETURN_NONE;
}

/* leg(fd, host, port, srtp=0, owner=None) -> Leg: dup(fd), the numeric IPv4/IPv6 address and,
 * for emit, the address of the leg's SRTP session (srtp_t) with the object that owns it
 * (pylibsrtp.Session), which the leg keeps alive. */
static PyObject *sendthread_leg(SendThread *self, PyObject *args) {
    int fd, port;
    const char *host;
    unsigned long long srtp = 0;
    PyObject *owner = Py_None;
    if (!PyArg_ParseTuple(args, "isi|KO", &fd, &host, &port, &srtp, &owner))
        return NULL;
    if (srtp != 0 && owner == Py_None) {
        PyErr_SetString(PyExc_ValueError, "leg: an SRTP session needs its owner (kept alive by the leg)");
        return NULL;
    }
    if (port <= 0 || port > 65535) {
        PyErr_SetString(PyExc_ValueError, "leg: port out of range");
        return NULL;
    }
    leg_t *leg = PyMem_RawCalloc(1, sizeof(leg_t));
    if (leg == NULL)
        return PyErr_NoMemory();
    struct sockaddr_in *v4 = (struct sockaddr_in *)&leg->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&leg->addr;
    const char *percent = strchr(host, '%');
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((unsigned short)port);
        leg->alen = sizeof(*v4);
    } else if (percent == NULL && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((unsigned short)port);
        leg->alen = sizeof(*v6);
    } else {
        PyMem_RawFree(leg);
        PyErr_Format(PyExc_ValueError, "leg: not a numeric address: %s", host);
        return NULL;
    }
    leg->fd = dup(fd);
    if (leg->fd < 0) {
        PyMem_RawFree(leg);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    leg->srtp = (void *)(uintptr_t)srtp;
    Leg *obj = PyObject_New(Leg, &LegType);
    if (obj == NULL) {
        close(leg->fd);
        PyMem_RawFree(leg);
        return NULL;
    }
    obj->leg = leg;
    Py_INCREF(owner);
    obj->owner = owner;
    Py_INCREF(self);
    obj->thread = self;
    return (PyObject *)obj;
}

/* The Leg object is gone: with the thread running here, a release item behind the leg's queued
 * datagrams (waiting for room if the ring is full: the thread frees a slot within
 * microseconds, it never blocks); otherwise nothing is queued for it, free it now. */
static void leg_dealloc(Leg *self) {
    SendThread *thread = self->thread;
    if (self->leg != NULL) {
        if (thread != NULL && running_here(thread)) {
            size_t tail = atomic_load_explicit(&thread->tail, memory_order_relaxed);
            while (!ring_has_room(thread, tail)) {
                sendthread_wake(thread);
                struct timespec pause = {0, 50 * 1000};
                nanosleep(&pause, NULL);
            }
            ring_commit(thread, &thread->ring[tail & (thread->capacity - 1)], self->leg, RELEASE_ITEM);
            sendthread_wake(thread);
        } else {
            leg_free(self->leg);
        }
    }
    Py_XDECREF(self->owner);
    Py_XDECREF((PyObject *)thread);
    PyObject_Free(self);
}

static PyMethodDef sendthread_methods[] = {
    {"push", (PyCFunction)(void (*)(void))sendthread_push, METH_FASTCALL,
     "push(leg, buffer, length) -> bool: queue buffer[:length] for leg; False when the ring is full"},
    {"emit", (PyCFunction)(void (*)(void))sendthread_emit, METH_FASTCALL,
     "emit(leg, b0, b1, seq, timestamp, ssrc, extension, payload) -> bool: build, protect, queue"},
    {"emitter", (PyCFunction)sendthread_emitter, METH_O,
     "emitter(leg) -> emit(b0, b1, seq, timestamp, ssrc, extension, payload): emit bound to a leg"},
    {"flush", (PyCFunction)sendthread_flush, METH_NOARGS, "wake the sending thread if it sleeps"},
    {"leg", (PyCFunction)sendthread_leg, METH_VARARGS, "leg(fd, host, port, srtp=0, owner=None): a destination"},
    {"pending", (PyCFunction)sendthread_pending, METH_NOARGS, "datagrams queued and not yet sent"},
    {"stats", (PyCFunction)sendthread_stats, METH_NOARGS, "counters"},
    {"close", (PyCFunction)sendthread_close, METH_NOARGS, "send what is queued and stop the thread"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LegType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "realtime.media._dataplane.Leg",
    .tp_basicsize = sizeof(Leg),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)leg_dealloc,
    .tp_doc = "One destination of an SendThread: a socket (duplicated) and a remote address.",
};

static PyTypeObject SendThreadType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "realtime.media._dataplane.SendThread",
    .tp_basicsize = sizeof(SendThread),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)sendthread_init,
    .tp_dealloc = (destructor)sendthread_dealloc,
    .tp_methods = sendthread_methods,
    .tp_doc = "SendThread(capacity=8192): UDP datagrams sent in order by a thread without the GIL.",
};

/* set_protect(address): libsrtp's srtp_protect, from pylibsrtp's cffi binding. */
static PyObject *set_protect(PyObject *module, PyObject *address) {
    (void)module;
    void *fn = PyLong_AsVoidPtr(address);
    if (fn == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "set_protect: a function address");
        return NULL;
    }
    srtp_protect_fn = (protect_fn)fn;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"set_protect", (PyCFunction)set_protect, METH_O, "set_protect(address of libsrtp's srtp_protect)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_methods = module_methods,
    .m_name = "_dataplane",
    .m_doc = "The SFU's data plane: the sending thread (_sendthread.c) and the slots' forwarding (_slot.c).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__dataplane(void) {
    static int atfork_registered = 0;
    if (!atfork_registered) {
        int rc = pthread_atfork(NULL, NULL, on_fork_child);
        if (rc != 0) {
            errno = rc;
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        atfork_registered = 1;
    }
    if (PyType_Ready(&LegType) < 0 || PyType_Ready(&SendThreadType) < 0 || PyType_Ready(&LegEmitType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&SendThreadType);
    if (PyModule_AddObject(m, "SendThread", (PyObject *)&SendThreadType) < 0) {
        Py_DECREF(&SendThreadType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&LegType);
    PyModule_AddObject(m, "Leg", (PyObject *)&LegType);
    Py_INCREF(&LegEmitType);
    PyModule_AddObject(m, "LegEmit", (PyObject *)&LegEmitType);
    if (dp_slot_add_types(m) < 0 || dp_receive_add_types(m) < 0 || dp_remb_add_types(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
