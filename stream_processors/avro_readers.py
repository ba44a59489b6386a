"""Avro readers of the newest versions of these records, generated ahead of time so that
they can be compiled:

    agentfeedback.events.Interaction
    agentfeedback.events.Feedback
    agentfeedback.events.Signal

Generated from schemas/avro by `python -m schemas.reader_module` with those names:
do not edit, a test compares it with a fresh generation.
"""

import struct
from typing import Any

from schemas.fast_reader import _LENGTHS, _ONE_BYTE

_unpack_double = struct.Struct("<d").unpack_from
_unpack_float = struct.Struct("<f").unpack_from


def _long_varint(data: bytes, pos: int) -> tuple[int, int]:
    """A zigzag varint of 3 to 10 bytes starting at `pos` (shorter ones are read inline).

    A tenth byte may only add the 64th bit: longer or larger varints are refused.
    """
    value = data[pos] & 0x7F
    shift = 7
    end = pos + 9
    pos += 1
    while pos < end:
        byte = data[pos]
        pos += 1
        if byte < 0x80:
            value |= byte << shift
            return (value >> 1) ^ -(value & 1), pos
        value |= (byte & 0x7F) << shift
        shift += 7
    if data[pos] > 1:
        raise ValueError("varint longer than 64 bits")
    value |= data[pos] << 63
    return (value >> 1) ^ -(value & 1), pos + 1

_SYMBOLS_read_interaction_v3_32 = {0: 'ok', 2: 'error', 4: 'timeout', 6: 'unknown'}
_SYMBOLS_read_feedback_v2_10 = {0: 'thumbs', 2: 'rating', 4: 'correction', 6: 'comment', 8: 'unknown'}
_BOOLEANS = (False, True)
_SYMBOLS_read_feedback_v2_22 = {0: 'end_user', 2: 'human_reviewer', 4: 'automatic_evaluator', 6: 'unknown'}
_SYMBOLS_read_signal_v1_10 = {0: 'task_completed', 2: 'task_failed', 4: 'abandoned', 6: 'retried', 8: 'escalated_to_human', 10: 'copied_response', 12: 'unknown'}
_SYMBOLS_read_signal_v1_12 = {0: 'agent', 2: 'client', 4: 'inferred', 6: 'unknown'}


def read_interaction_v3(data: bytes, pos: int) -> Any:
    n2 = data[pos]
    if n2 < 0x80: n2 = _LENGTHS[n2]; pos += 1
    elif data[pos + 1] < 0x80:
        n2 = (n2 & 0x7F) | (data[pos + 1] << 7)
        n2 = (n2 >> 1) ^ -(n2 & 1); pos += 2
    else: n2, pos = _long_varint(data, pos)
    if n2 < 0: raise ValueError('negative length')
    n2 += pos
    v1 = data[pos:n2].decode()
    pos = n2
    n4 = data[pos]
    if n4 < 0x80: n4 = _LENGTHS[n4]; pos += 1
    elif data[pos + 1] < 0x80:
        n4 = (n4 & 0x7F) | (data[pos + 1] << 7)
        n4 = (n4 >> 1) ^ -(n4 & 1); pos += 2
    else: n4, pos = _long_varint(data, pos)
    if n4 < 0: raise ValueError('negative length')
    n4 += pos
    v3 = data[pos:n4].decode()
    pos = n4
    v5 = data[pos]
    if v5 < 0x80: v5 = _ONE_BYTE[v5]; pos += 1
    elif data[pos + 1] < 0x80:
        v5 = (v5 & 0x7F) | (data[pos + 1] << 7)
        v5 = (v5 >> 1) ^ -(v5 & 1); pos += 2
    else: v5, pos = _long_varint(data, pos)
    n7 = data[pos]
    if n7 < 0x80: n7 = _LENGTHS[n7]; pos += 1
    elif data[pos + 1] < 0x80:
        n7 = (n7 & 0x7F) | (data[pos + 1] << 7)
        n7 = (n7 >> 1) ^ -(n7 & 1); pos += 2
    else: n7, pos = _long_varint(data, pos)
    if n7 < 0: raise ValueError('negative length')
    n7 += pos
    v6 = data[pos:n7].decode()
    pos = n7
    n9 = data[pos]
    if n9 < 0x80: n9 = _LENGTHS[n9]; pos += 1
    elif data[pos + 1] < 0x80:
        n9 = (n9 & 0x7F) | (data[pos + 1] << 7)
        n9 = (n9 >> 1) ^ -(n9 & 1); pos += 2
    else: n9, pos = _long_varint(data, pos)
    if n9 < 0: raise ValueError('negative length')
    n9 += pos
    v8 = data[pos:n9].decode()
    pos = n9
    n11 = data[pos]
    if n11 < 0x80: n11 = _LENGTHS[n11]; pos += 1
    elif data[pos + 1] < 0x80:
        n11 = (n11 & 0x7F) | (data[pos + 1] << 7)
        n11 = (n11 >> 1) ^ -(n11 & 1); pos += 2
    else: n11, pos = _long_varint(data, pos)
    if n11 < 0: raise ValueError('negative length')
    n11 += pos
    v10 = data[pos:n11].decode()
    pos = n11
    v12 = data[pos]
    if v12 < 0x80: v12 = _ONE_BYTE[v12]; pos += 1
    elif data[pos + 1] < 0x80:
        v12 = (v12 & 0x7F) | (data[pos + 1] << 7)
        v12 = (v12 >> 1) ^ -(v12 & 1); pos += 2
    else: v12, pos = _long_varint(data, pos)
    u14 = data[pos]
    pos += 1
    if u14 == 0:
        v13 = None
    elif u14 == 2:
        n15 = data[pos]
        if n15 < 0x80: n15 = _LENGTHS[n15]; pos += 1
        elif data[pos + 1] < 0x80:
            n15 = (n15 & 0x7F) | (data[pos + 1] << 7)
            n15 = (n15 >> 1) ^ -(n15 & 1); pos += 2
        else: n15, pos = _long_varint(data, pos)
        if n15 < 0: raise ValueError('negative length')
        n15 += pos
        v13 = data[pos:n15].decode()
        pos = n15
    else: raise ValueError('union index out of range')
    n17 = data[pos]
    if n17 < 0x80: n17 = _LENGTHS[n17]; pos += 1
    elif data[pos + 1] < 0x80:
        n17 = (n17 & 0x7F) | (data[pos + 1] << 7)
        n17 = (n17 >> 1) ^ -(n17 & 1); pos += 2
    else: n17, pos = _long_varint(data, pos)
    if n17 < 0: raise ValueError('negative length')
    n17 += pos
    v16 = data[pos:n17].decode()
    pos = n17
    n19 = data[pos]
    if n19 < 0x80: n19 = _LENGTHS[n19]; pos += 1
    elif data[pos + 1] < 0x80:
        n19 = (n19 & 0x7F) | (data[pos + 1] << 7)
        n19 = (n19 >> 1) ^ -(n19 & 1); pos += 2
    else: n19, pos = _long_varint(data, pos)
    if n19 < 0: raise ValueError('negative length')
    n19 += pos
    v18 = data[pos:n19].decode()
    pos = n19
    u21 = data[pos]
    pos += 1
    if u21 == 0:
        v20 = None
    elif u21 == 2:
        n22 = data[pos]
        if n22 < 0x80: n22 = _LENGTHS[n22]; pos += 1
        elif data[pos + 1] < 0x80:
            n22 = (n22 & 0x7F) | (data[pos + 1] << 7)
            n22 = (n22 >> 1) ^ -(n22 & 1); pos += 2
        else: n22, pos = _long_varint(data, pos)
        if n22 < 0: raise ValueError('negative length')
        n22 += pos
        v20 = data[pos:n22].decode()
        pos = n22
    else: raise ValueError('union index out of range')
    v23 = []
    while True:
        c24 = data[pos]
        if c24 < 0x80: c24 = _ONE_BYTE[c24]; pos += 1
        elif data[pos + 1] < 0x80:
            c24 = (c24 & 0x7F) | (data[pos + 1] << 7)
            c24 = (c24 >> 1) ^ -(c24 & 1); pos += 2
        else: c24, pos = _long_varint(data, pos)
        if c24 == 0: break
        if c24 < 0:
            c24 = -c24
            size26 = data[pos]
            if size26 < 0x80: size26 = _LENGTHS[size26]; pos += 1
            elif data[pos + 1] < 0x80:
                size26 = (size26 & 0x7F) | (data[pos + 1] << 7)
                size26 = (size26 >> 1) ^ -(size26 & 1); pos += 2
            else: size26, pos = _long_varint(data, pos)
            if size26 < 0: raise ValueError('negative length')
        if c24 > len(data): raise ValueError('count beyond the data')
        for _ in range(c24):
            n28 = data[pos]
            if n28 < 0x80: n28 = _LENGTHS[n28]; pos += 1
            elif data[pos + 1] < 0x80:
                n28 = (n28 & 0x7F) | (data[pos + 1] << 7)
                n28 = (n28 >> 1) ^ -(n28 & 1); pos += 2
            else: n28, pos = _long_varint(data, pos)
            if n28 < 0: raise ValueError('negative length')
            n28 += pos
            v27 = data[pos:n28].decode()
            pos = n28
            n30 = data[pos]
            if n30 < 0x80: n30 = _LENGTHS[n30]; pos += 1
            elif data[pos + 1] < 0x80:
                n30 = (n30 & 0x7F) | (data[pos + 1] << 7)
                n30 = (n30 >> 1) ^ -(n30 & 1); pos += 2
            else: n30, pos = _long_varint(data, pos)
            if n30 < 0: raise ValueError('negative length')
            n30 += pos
            v29 = data[pos:n30].decode()
            pos = n30
            v31 = _SYMBOLS_read_interaction_v3_32[data[pos]]
            pos += 1
            v33 = data[pos]
            if v33 < 0x80: v33 = _ONE_BYTE[v33]; pos += 1
            elif data[pos + 1] < 0x80:
                v33 = (v33 & 0x7F) | (data[pos + 1] << 7)
                v33 = (v33 >> 1) ^ -(v33 & 1); pos += 2
            else: v33, pos = _long_varint(data, pos)
            item25 = {'name': v27, 'arguments': v29, 'status': v31, 'latency_ms': v33}
            v23.append(item25)
    v34 = {}
    while True:
        c35 = data[pos]
        if c35 < 0x80: c35 = _ONE_BYTE[c35]; pos += 1
        elif data[pos + 1] < 0x80:
            c35 = (c35 & 0x7F) | (data[pos + 1] << 7)
            c35 = (c35 >> 1) ^ -(c35 & 1); pos += 2
        else: c35, pos = _long_varint(data, pos)
        if c35 == 0: break
        if c35 < 0:
            c35 = -c35
            size37 = data[pos]
            if size37 < 0x80: size37 = _LENGTHS[size37]; pos += 1
            elif data[pos + 1] < 0x80:
                size37 = (size37 & 0x7F) | (data[pos + 1] << 7)
                size37 = (size37 >> 1) ^ -(size37 & 1); pos += 2
            else: size37, pos = _long_varint(data, pos)
            if size37 < 0: raise ValueError('negative length')
        if c35 > len(data): raise ValueError('count beyond the data')
        for _ in range(c35):
            n39 = data[pos]
            if n39 < 0x80: n39 = _LENGTHS[n39]; pos += 1
            elif data[pos + 1] < 0x80:
                n39 = (n39 & 0x7F) | (data[pos + 1] << 7)
                n39 = (n39 >> 1) ^ -(n39 & 1); pos += 2
            else: n39, pos = _long_varint(data, pos)
            if n39 < 0: raise ValueError('negative length')
            n39 += pos
            key38 = data[pos:n39].decode()
            pos = n39
            n40 = data[pos]
            if n40 < 0x80: n40 = _LENGTHS[n40]; pos += 1
            elif data[pos + 1] < 0x80:
                n40 = (n40 & 0x7F) | (data[pos + 1] << 7)
                n40 = (n40 >> 1) ^ -(n40 & 1); pos += 2
            else: n40, pos = _long_varint(data, pos)
            if n40 < 0: raise ValueError('negative length')
            n40 += pos
            item36 = data[pos:n40].decode()
            pos = n40
            v34[key38] = item36
    v41 = data[pos]
    if v41 < 0x80: v41 = _ONE_BYTE[v41]; pos += 1
    elif data[pos + 1] < 0x80:
        v41 = (v41 & 0x7F) | (data[pos + 1] << 7)
        v41 = (v41 >> 1) ^ -(v41 & 1); pos += 2
    else: v41, pos = _long_varint(data, pos)
    v42 = data[pos]
    if v42 < 0x80: v42 = _ONE_BYTE[v42]; pos += 1
    elif data[pos + 1] < 0x80:
        v42 = (v42 & 0x7F) | (data[pos + 1] << 7)
        v42 = (v42 >> 1) ^ -(v42 & 1); pos += 2
    else: v42, pos = _long_varint(data, pos)
    v43 = data[pos]
    if v43 < 0x80: v43 = _ONE_BYTE[v43]; pos += 1
    elif data[pos + 1] < 0x80:
        v43 = (v43 & 0x7F) | (data[pos + 1] << 7)
        v43 = (v43 >> 1) ^ -(v43 & 1); pos += 2
    else: v43, pos = _long_varint(data, pos)
    v44 = _unpack_double(data, pos)[0]
    pos += 8
    u46 = data[pos]
    pos += 1
    if u46 == 0:
        v45 = None
    elif u46 == 2:
        n47 = data[pos]
        if n47 < 0x80: n47 = _LENGTHS[n47]; pos += 1
        elif data[pos + 1] < 0x80:
            n47 = (n47 & 0x7F) | (data[pos + 1] << 7)
            n47 = (n47 >> 1) ^ -(n47 & 1); pos += 2
        else: n47, pos = _long_varint(data, pos)
        if n47 < 0: raise ValueError('negative length')
        n47 += pos
        v45 = data[pos:n47].decode()
        pos = n47
    else: raise ValueError('union index out of range')
    v48 = []
    while True:
        c49 = data[pos]
        if c49 < 0x80: c49 = _ONE_BYTE[c49]; pos += 1
        elif data[pos + 1] < 0x80:
            c49 = (c49 & 0x7F) | (data[pos + 1] << 7)
            c49 = (c49 >> 1) ^ -(c49 & 1); pos += 2
        else: c49, pos = _long_varint(data, pos)
        if c49 == 0: break
        if c49 < 0:
            c49 = -c49
            size51 = data[pos]
            if size51 < 0x80: size51 = _LENGTHS[size51]; pos += 1
            elif data[pos + 1] < 0x80:
                size51 = (size51 & 0x7F) | (data[pos + 1] << 7)
                size51 = (size51 >> 1) ^ -(size51 & 1); pos += 2
            else: size51, pos = _long_varint(data, pos)
            if size51 < 0: raise ValueError('negative length')
        if c49 > len(data): raise ValueError('count beyond the data')
        for _ in range(c49):
            n53 = data[pos]
            if n53 < 0x80: n53 = _LENGTHS[n53]; pos += 1
            elif data[pos + 1] < 0x80:
                n53 = (n53 & 0x7F) | (data[pos + 1] << 7)
                n53 = (n53 >> 1) ^ -(n53 & 1); pos += 2
            else: n53, pos = _long_varint(data, pos)
            if n53 < 0: raise ValueError('negative length')
            n53 += pos
            v52 = data[pos:n53].decode()
            pos = n53
            v54 = data[pos]
            if v54 < 0x80: v54 = _ONE_BYTE[v54]; pos += 1
            elif data[pos + 1] < 0x80:
                v54 = (v54 & 0x7F) | (data[pos + 1] << 7)
                v54 = (v54 >> 1) ^ -(v54 & 1); pos += 2
            else: v54, pos = _long_varint(data, pos)
            n56 = data[pos]
            if n56 < 0x80: n56 = _LENGTHS[n56]; pos += 1
            elif data[pos + 1] < 0x80:
                n56 = (n56 & 0x7F) | (data[pos + 1] << 7)
                n56 = (n56 >> 1) ^ -(n56 & 1); pos += 2
            else: n56, pos = _long_varint(data, pos)
            if n56 < 0: raise ValueError('negative length')
            n56 += pos
            v55 = data[pos:n56].decode()
            pos = n56
            n58 = data[pos]
            if n58 < 0x80: n58 = _LENGTHS[n58]; pos += 1
            elif data[pos + 1] < 0x80:
                n58 = (n58 & 0x7F) | (data[pos + 1] << 7)
                n58 = (n58 >> 1) ^ -(n58 & 1); pos += 2
            else: n58, pos = _long_varint(data, pos)
            if n58 < 0: raise ValueError('negative length')
            n58 += pos
            v57 = data[pos:n58].decode()
            pos = n58
            u60 = data[pos]
            pos += 1
            if u60 == 0:
                v59 = None
            elif u60 == 2:
                n61 = data[pos]
                if n61 < 0x80: n61 = _LENGTHS[n61]; pos += 1
                elif data[pos + 1] < 0x80:
                    n61 = (n61 & 0x7F) | (data[pos + 1] << 7)
                    n61 = (n61 >> 1) ^ -(n61 & 1); pos += 2
                else: n61, pos = _long_varint(data, pos)
                if n61 < 0: raise ValueError('negative length')
                n61 += pos
                v59 = data[pos:n61].decode()
                pos = n61
            else: raise ValueError('union index out of range')
            item50 = {'media_type': v52, 'size_bytes': v54, 'sha256': v55, 'uri': v57, 'name': v59}
            v48.append(item50)
    record = {'event_id': v1, 'session_id': v3, 'turn_index': v5, 'agent_id': v6, 'agent_version': v8, 'model': v10, 'event_time': v12, 'user_id': v13, 'prompt': v16, 'response': v18, 'reasoning': v20, 'tools_used': v23, 'context': v34, 'latency_ms': v41, 'prompt_tokens': v42, 'completion_tokens': v43, 'cost_usd': v44, 'retry_of': v45, 'attachments': v48}
    if pos != len(data): raise ValueError('trailing or missing bytes')
    return record


def read_feedback_v2(data: bytes, pos: int) -> Any:
    n2 = data[pos]
    if n2 < 0x80: n2 = _LENGTHS[n2]; pos += 1
    elif data[pos + 1] < 0x80:
        n2 = (n2 & 0x7F) | (data[pos + 1] << 7)
        n2 = (n2 >> 1) ^ -(n2 & 1); pos += 2
    else: n2, pos = _long_varint(data, pos)
    if n2 < 0: raise ValueError('negative length')
    n2 += pos
    v1 = data[pos:n2].decode()
    pos = n2
    n4 = data[pos]
    if n4 < 0x80: n4 = _LENGTHS[n4]; pos += 1
    elif data[pos + 1] < 0x80:
        n4 = (n4 & 0x7F) | (data[pos + 1] << 7)
        n4 = (n4 >> 1) ^ -(n4 & 1); pos += 2
    else: n4, pos = _long_varint(data, pos)
    if n4 < 0: raise ValueError('negative length')
    n4 += pos
    v3 = data[pos:n4].decode()
    pos = n4
    u6 = data[pos]
    pos += 1
    if u6 == 0:
        v5 = None
    elif u6 == 2:
        n7 = data[pos]
        if n7 < 0x80: n7 = _LENGTHS[n7]; pos += 1
        elif data[pos + 1] < 0x80:
            n7 = (n7 & 0x7F) | (data[pos + 1] << 7)
            n7 = (n7 >> 1) ^ -(n7 & 1); pos += 2
        else: n7, pos = _long_varint(data, pos)
        if n7 < 0: raise ValueError('negative length')
        n7 += pos
        v5 = data[pos:n7].decode()
        pos = n7
    else: raise ValueError('union index out of range')
    v8 = data[pos]
    if v8 < 0x80: v8 = _ONE_BYTE[v8]; pos += 1
    elif data[pos + 1] < 0x80:
        v8 = (v8 & 0x7F) | (data[pos + 1] << 7)
        v8 = (v8 >> 1) ^ -(v8 & 1); pos += 2
    else: v8, pos = _long_varint(data, pos)
    v9 = _SYMBOLS_read_feedback_v2_10[data[pos]]
    pos += 1
    u12 = data[pos]
    pos += 1
    if u12 == 0:
        v11 = None
    elif u12 == 2:
        v11 = _BOOLEANS[data[pos]]
        pos += 1
    else: raise ValueError('union index out of range')
    u14 = data[pos]
    pos += 1
    if u14 == 0:
        v13 = None
    elif u14 == 2:
        v13 = data[pos]
        if v13 < 0x80: v13 = _ONE_BYTE[v13]; pos += 1
        elif data[pos + 1] < 0x80:
            v13 = (v13 & 0x7F) | (data[pos + 1] << 7)
            v13 = (v13 >> 1) ^ -(v13 & 1); pos += 2
        else: v13, pos = _long_varint(data, pos)
    else: raise ValueError('union index out of range')
    u16 = data[pos]
    pos += 1
    if u16 == 0:
        v15 = None
    elif u16 == 2:
        n17 = data[pos]
        if n17 < 0x80: n17 = _LENGTHS[n17]; pos += 1
        elif data[pos + 1] < 0x80:
            n17 = (n17 & 0x7F) | (data[pos + 1] << 7)
            n17 = (n17 >> 1) ^ -(n17 & 1); pos += 2
        else: n17, pos = _long_varint(data, pos)
        if n17 < 0: raise ValueError('negative length')
        n17 += pos
        v15 = data[pos:n17].decode()
        pos = n17
    else: raise ValueError('union index out of range')
    u19 = data[pos]
    pos += 1
    if u19 == 0:
        v18 = None
    elif u19 == 2:
        n20 = data[pos]
        if n20 < 0x80: n20 = _LENGTHS[n20]; pos += 1
        elif data[pos + 1] < 0x80:
            n20 = (n20 & 0x7F) | (data[pos + 1] << 7)
            n20 = (n20 >> 1) ^ -(n20 & 1); pos += 2
        else: n20, pos = _long_varint(data, pos)
        if n20 < 0: raise ValueError('negative length')
        n20 += pos
        v18 = data[pos:n20].decode()
        pos = n20
    else: raise ValueError('union index out of range')
    v21 = _SYMBOLS_read_feedback_v2_22[data[pos]]
    pos += 1
    u24 = data[pos]
    pos += 1
    if u24 == 0:
        v23 = None
    elif u24 == 2:
        n25 = data[pos]
        if n25 < 0x80: n25 = _LENGTHS[n25]; pos += 1
        elif data[pos + 1] < 0x80:
            n25 = (n25 & 0x7F) | (data[pos + 1] << 7)
            n25 = (n25 >> 1) ^ -(n25 & 1); pos += 2
        else: n25, pos = _long_varint(data, pos)
        if n25 < 0: raise ValueError('negative length')
        n25 += pos
        v23 = data[pos:n25].decode()
        pos = n25
    else: raise ValueError('union index out of range')
    v26 = []
    while True:
        c27 = data[pos]
        if c27 < 0x80: c27 = _ONE_BYTE[c27]; pos += 1
        elif data[pos + 1] < 0x80:
            c27 = (c27 & 0x7F) | (data[pos + 1] << 7)
            c27 = (c27 >> 1) ^ -(c27 & 1); pos += 2
        else: c27, pos = _long_varint(data, pos)
        if c27 == 0: break
        if c27 < 0:
            c27 = -c27
            size29 = data[pos]
            if size29 < 0x80: size29 = _LENGTHS[size29]; pos += 1
            elif data[pos + 1] < 0x80:
                size29 = (size29 & 0x7F) | (data[pos + 1] << 7)
                size29 = (size29 >> 1) ^ -(size29 & 1); pos += 2
            else: size29, pos = _long_varint(data, pos)
            if size29 < 0: raise ValueError('negative length')
        if c27 > len(data): raise ValueError('count beyond the data')
        for _ in range(c27):
            n31 = data[pos]
            if n31 < 0x80: n31 = _LENGTHS[n31]; pos += 1
            elif data[pos + 1] < 0x80:
                n31 = (n31 & 0x7F) | (data[pos + 1] << 7)
                n31 = (n31 >> 1) ^ -(n31 & 1); pos += 2
            else: n31, pos = _long_varint(data, pos)
            if n31 < 0: raise ValueError('negative length')
            n31 += pos
            v30 = data[pos:n31].decode()
            pos = n31
            v32 = data[pos]
            if v32 < 0x80: v32 = _ONE_BYTE[v32]; pos += 1
            elif data[pos + 1] < 0x80:
                v32 = (v32 & 0x7F) | (data[pos + 1] << 7)
                v32 = (v32 >> 1) ^ -(v32 & 1); pos += 2
            else: v32, pos = _long_varint(data, pos)
            n34 = data[pos]
            if n34 < 0x80: n34 = _LENGTHS[n34]; pos += 1
            elif data[pos + 1] < 0x80:
                n34 = (n34 & 0x7F) | (data[pos + 1] << 7)
                n34 = (n34 >> 1) ^ -(n34 & 1); pos += 2
            else: n34, pos = _long_varint(data, pos)
            if n34 < 0: raise ValueError('negative length')
            n34 += pos
            v33 = data[pos:n34].decode()
            pos = n34
            n36 = data[pos]
            if n36 < 0x80: n36 = _LENGTHS[n36]; pos += 1
            elif data[pos + 1] < 0x80:
                n36 = (n36 & 0x7F) | (data[pos + 1] << 7)
                n36 = (n36 >> 1) ^ -(n36 & 1); pos += 2
            else: n36, pos = _long_varint(data, pos)
            if n36 < 0: raise ValueError('negative length')
            n36 += pos
            v35 = data[pos:n36].decode()
            pos = n36
            u38 = data[pos]
            pos += 1
            if u38 == 0:
                v37 = None
            elif u38 == 2:
                n39 = data[pos]
                if n39 < 0x80: n39 = _LENGTHS[n39]; pos += 1
                elif data[pos + 1] < 0x80:
                    n39 = (n39 & 0x7F) | (data[pos + 1] << 7)
                    n39 = (n39 >> 1) ^ -(n39 & 1); pos += 2
                else: n39, pos = _long_varint(data, pos)
                if n39 < 0: raise ValueError('negative length')
                n39 += pos
                v37 = data[pos:n39].decode()
                pos = n39
            else: raise ValueError('union index out of range')
            item28 = {'media_type': v30, 'size_bytes': v32, 'sha256': v33, 'uri': v35, 'name': v37}
            v26.append(item28)
    record = {'event_id': v1, 'session_id': v3, 'interaction_id': v5, 'event_time': v8, 'kind': v9, 'thumbs_up': v11, 'rating': v13, 'correction': v15, 'comment': v18, 'source': v21, 'rater_id': v23, 'attachments': v26}
    if pos != len(data): raise ValueError('trailing or missing bytes')
    return record


def read_signal_v1(data: bytes, pos: int) -> Any:
    n2 = data[pos]
    if n2 < 0x80: n2 = _LENGTHS[n2]; pos += 1
    elif data[pos + 1] < 0x80:
        n2 = (n2 & 0x7F) | (data[pos + 1] << 7)
        n2 = (n2 >> 1) ^ -(n2 & 1); pos += 2
    else: n2, pos = _long_varint(data, pos)
    if n2 < 0: raise ValueError('negative length')
    n2 += pos
    v1 = data[pos:n2].decode()
    pos = n2
    n4 = data[pos]
    if n4 < 0x80: n4 = _LENGTHS[n4]; pos += 1
    elif data[pos + 1] < 0x80:
        n4 = (n4 & 0x7F) | (data[pos + 1] << 7)
        n4 = (n4 >> 1) ^ -(n4 & 1); pos += 2
    else: n4, pos = _long_varint(data, pos)
    if n4 < 0: raise ValueError('negative length')
    n4 += pos
    v3 = data[pos:n4].decode()
    pos = n4
    u6 = data[pos]
    pos += 1
    if u6 == 0:
        v5 = None
    elif u6 == 2:
        n7 = data[pos]
        if n7 < 0x80: n7 = _LENGTHS[n7]; pos += 1
        elif data[pos + 1] < 0x80:
            n7 = (n7 & 0x7F) | (data[pos + 1] << 7)
            n7 = (n7 >> 1) ^ -(n7 & 1); pos += 2
        else: n7, pos = _long_varint(data, pos)
        if n7 < 0: raise ValueError('negative length')
        n7 += pos
        v5 = data[pos:n7].decode()
        pos = n7
    else: raise ValueError('union index out of range')
    v8 = data[pos]
    if v8 < 0x80: v8 = _ONE_BYTE[v8]; pos += 1
    elif data[pos + 1] < 0x80:
        v8 = (v8 & 0x7F) | (data[pos + 1] << 7)
        v8 = (v8 >> 1) ^ -(v8 & 1); pos += 2
    else: v8, pos = _long_varint(data, pos)
    v9 = _SYMBOLS_read_signal_v1_10[data[pos]]
    pos += 1
    v11 = _SYMBOLS_read_signal_v1_12[data[pos]]
    pos += 1
    u14 = data[pos]
    pos += 1
    if u14 == 0:
        v13 = None
    elif u14 == 2:
        n15 = data[pos]
        if n15 < 0x80: n15 = _LENGTHS[n15]; pos += 1
        elif data[pos + 1] < 0x80:
            n15 = (n15 & 0x7F) | (data[pos + 1] << 7)
            n15 = (n15 >> 1) ^ -(n15 & 1); pos += 2
        else: n15, pos = _long_varint(data, pos)
        if n15 < 0: raise ValueError('negative length')
        n15 += pos
        v13 = data[pos:n15].decode()
        pos = n15
    else: raise ValueError('union index out of range')
    record = {'event_id': v1, 'session_id': v3, 'interaction_id': v5, 'event_time': v8, 'kind': v9, 'source': v11, 'detail': v13}
    if pos != len(data): raise ValueError('trailing or missing bytes')
    return record


READERS = {
    bytes.fromhex('0da204834f7a5380'): read_interaction_v3,
    bytes.fromhex('2a65a6905b2f78b4'): read_feedback_v2,
    bytes.fromhex('9335f3176dd7de31'): read_signal_v1,
}
