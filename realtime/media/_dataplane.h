/* The SFU's data plane in C (the extension realtime.media._dataplane), shared between its parts:
 *
 *   _sendthread.c  the sending thread: a ring of datagrams a thread without the GIL sends, its
 *                  destinations (Leg) and a leg's emitter (LegEmit: header, payload, SRTP
 *                  protect straight into the ring);
 *   _slot.c        a subscriber slot's per-packet state (SlotCore, the base of
 *                  forwarding.SlotTrack): source switches, the continuous timeline, the NACK
 *                  history, then the emit, in one C call per forwarded packet;
 *   _receive.c     the publisher's packet off the socket: SRTP unprotect (Unprotector) and
 *                  aiortc's RTP parse (parse_rtp) without Python in between;
 *   _remb.c        the publisher's bandwidth estimate (BitrateEstimator): aiortc's
 *                  RemoteBitrateEstimator ported step for step.
 */
#ifndef SMO_DATAPLANE_H
#define SMO_DATAPLANE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Adds a static type (readied here if it is not yet) to the module: 0, or -1 with an exception. */
static inline int dp_add_type(PyObject *module, const char *name, PyTypeObject *type) {
    if (PyType_Ready(type) < 0)
        return -1;
    Py_INCREF(type);
    if (PyModule_AddObject(module, name, (PyObject *)type) < 0) {
        Py_DECREF(type);
        return -1;
    }
    return 0;
}

/* Adds a module-level function (its definition static): 0, or -1 with an exception. */
static inline int dp_add_function(PyObject *module, PyMethodDef *def) {
    PyObject *function = PyCFunction_NewEx(def, NULL, NULL);
    if (function == NULL || PyModule_AddObject(module, def->ml_name, function) < 0) {
        Py_XDECREF(function);
        return -1;
    }
    return 0;
}

/* The object is a LegEmit (SendThread.emitter(leg)). */
int dp_is_legemit(PyObject *obj);

/* One RTP packet through a LegEmit, as its call does: 1 queued, 0 not queued (the ring is full,
 * the packet too long or libsrtp refused it), -1 with an exception set. */
int dp_legemit_send(PyObject *emitter, unsigned long b0, unsigned long b1, unsigned long seq, unsigned long ts,
                    unsigned long ssrc, const char *ext, Py_ssize_t elen, const char *payload, Py_ssize_t plen);

/* Adds SlotCore to the module (_slot.c). */
int dp_slot_add_types(PyObject *module);

/* Adds Unprotector and parse_rtp to the module (_receive.c). */
int dp_receive_add_types(PyObject *module);

/* Adds BitrateEstimator to the module (_remb.c). */
int dp_remb_add_types(PyObject *module);

#endif
