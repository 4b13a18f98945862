#!/usr/bin/env python3
"""Writes the tiny checkpoint samples under Tests/Fixtures/checkpoint/ used by the Swift tests.

Run once with the project venv (torch, safetensors):
    /work/main/tools/.venv/bin/python tools/make_checkpoint_samples.py
The same deterministic tensors are written as .bin, sharded .bin, single and sharded
safetensors, so the tests can require bit-identical results across forms. Hostile samples are
built by hand; nothing in them is ever executed, only refused by the reader.
"""
import collections
import io
import json
import os
import pickle
import struct
import zipfile
import zlib

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "checkpoint")
L0 = "gpt_neox.layers.0.attention."


def common():
    """Tensors every form carries: one per dtype, Dolly's legacy buffers, a 0-dim scalar, an empty one."""
    return {
        "gpt_neox.embed_in.weight": (torch.arange(24, dtype=torch.float32) * 0.25 - 3).reshape(6, 4).to(torch.bfloat16),
        L0 + "query_key_value.weight": (torch.arange(12, dtype=torch.float32) * 0.5 - 2).reshape(3, 4).to(torch.float16),
        L0 + "dense.bias": torch.tensor([0.1, -0.2, 0.3, 1e-8], dtype=torch.float32),
        L0 + "bias": torch.tril(torch.ones(4, 4, dtype=torch.bool)).view(1, 1, 4, 4),
        L0 + "masked_bias": torch.tensor(-1e9),
        L0 + "rotary_emb.inv_freq": torch.tensor([1.0, 0.01]),
        "ids": torch.tensor([1, -2, 3_000_000_000], dtype=torch.int64),
        "empty": torch.zeros(0, 3),
    }


def with_extras(sd):
    """Adds what only a .bin can hold: a transposed view and two views sharing one storage."""
    sd = dict(sd)
    sd["extra.transposed"] = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()
    base = torch.arange(8, dtype=torch.float32)
    sd["extra.shared_a"] = base[2:6]
    sd["extra.shared_b"] = base[0:3]
    return collections.OrderedDict(sd)


def path(*parts):
    p = os.path.join(OUT, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def zip_entries(bin_path):
    with zipfile.ZipFile(bin_path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def write_zip64(dest, entries):
    """A stored zip in which every size and offset goes through ZIP64 (extra fields, EOCD64
    record and locator), as a >4 GB pytorch_model.bin would."""
    out, central = bytearray(), bytearray()
    for name, data in entries:
        nb, crc, off = name.encode(), zlib.crc32(data), len(out)
        local_extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                           len(nb), len(local_extra)) + nb + local_extra + data
        cd_extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF,
                               0xFFFFFFFF, len(nb), len(cd_extra), 0, 0, 0, 0, 0xFFFFFFFF) + nb + cd_extra
    cd_offset, n = len(out), len(entries)
    out += central
    eocd64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(dest, "wb") as f:
        f.write(out)
    with zipfile.ZipFile(dest) as z:  # Python's reader agrees with the layout
        assert z.testzip() is None


def write_zip(dest, entries, method=zipfile.ZIP_STORED):
    with zipfile.ZipFile(dest, "w", compression=method) as z:
        for name, data in entries:
            # A fixed timestamp keeps regenerated samples byte-identical.
            z.writestr(zipfile.ZipInfo(name, date_time=(2023, 4, 12, 0, 0, 0)), data, compress_type=method)


class Evil:
    """Pickles as a call to os.system; the reader must refuse the global without running it."""
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


class FakeStorage:
    pass


class FakeTensor:
    """Pickles like a torch tensor whose view runs past the end of its 4-element storage."""
    def __init__(self, storage):
        self.storage = storage

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2,
                (self.storage, 2, (4,), (1,), False, collections.OrderedDict()))


class StoragePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return ("storage", torch.FloatStorage, "0", "cpu", 4)
        return None


def main():
    base = common()
    full = with_extras(base)

    # torch.save to a path names the record after the file stem ("pytorch_model/").
    torch.save(full, path("bin", "pytorch_model.bin"))
    # ... and to a buffer uses "archive/", as newer torch does everywhere.
    buf = io.BytesIO()
    torch.save(full, buf)
    with open(path("bin-archive", "pytorch_model.bin"), "wb") as f:
        f.write(buf.getvalue())

    # Protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL) with nn.Parameter values (_rebuild_parameter),
    # as torch.save(model.state_dict(keep_vars=True), pickle_protocol=4) would write.
    params = collections.OrderedDict(
        (n, torch.nn.Parameter(t, requires_grad=t.is_floating_point())) for n, t in base.items())
    torch.save(params, path("bin-proto4", "pytorch_model.bin"), pickle_protocol=4)

    save_file(base, path("safetensors", "model.safetensors"), metadata={"format": "pt"})

    names = list(base)
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    for kind in ("safetensors", "bin"):
        weight_map = {}
        for i, part in enumerate(halves):
            if kind == "safetensors":
                shard = f"model-0000{i + 1}-of-00002.safetensors"
                save_file({n: base[n] for n in part}, path("sharded", shard), metadata={"format": "pt"})
            else:
                shard = f"pytorch_model-0000{i + 1}-of-00002.bin"
                torch.save(collections.OrderedDict((n, base[n]) for n in part), path("sharded-bin", shard))
            weight_map.update({n: shard for n in part})
        index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
        name = "model.safetensors.index.json" if kind == "safetensors" else "pytorch_model.bin.index.json"
        with open(path("sharded" if kind == "safetensors" else "sharded-bin", name), "w") as f:
            json.dump(index, f, indent=2)

    archive = zip_entries(path("bin-archive", "pytorch_model.bin"))
    write_zip64(path("zip64", "pytorch_model.bin"), archive)
    write_zip(path("bad", "compressed.bin"), archive, zipfile.ZIP_DEFLATED)
    write_zip(path("bad", "os_system.bin"), [("archive/data.pkl", pickle.dumps({"x": Evil()}, protocol=2))])

    pkl = io.BytesIO()
    StoragePickler(pkl, protocol=2).dump(collections.OrderedDict(x=FakeTensor(FakeStorage())))
    write_zip(path("bad", "view_out_of_bounds.bin"),
              [("archive/data.pkl", pkl.getvalue()), ("archive/data/0", struct.pack("<4f", 1, 2, 3, 4))])


if __name__ == "__main__":
    main()
