"""Bring your own problem, as data: FCIDUMP and Pauli-list Hamiltonians, QPY / OpenQASM 3 ansatze.

A file travels in the study (``data``: text, or base64 for binary, at most MAX_EMBED_BYTES) or by
reference (``file``: a path on the cluster filesystem). Nothing here executes user content: FCIDUMP
and JSON are parsed as numbers, HDF5 read as datasets, QASM parsed into a circuit, QPY is Qiskit's
binary circuit format (no pickle). Errors name the file, the line or field, and the fix.

Header readers (``fcidump_header``, ``pauli_header``) are pure Python: the spec sizes jobs with them.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from pathlib import Path

MAX_EMBED_BYTES = 4 * 2**20


class ProblemFileError(ValueError):
    """A bad problem/ansatz file; str() names the file, the place and the fix."""


def source_bytes(file: str | None, data: str | None, encoding: str = "text", what: str = "file") -> tuple[str, bytes]:
    """(name for messages, content). ``data`` wins over ``file`` (the client embeds files)."""
    name = file or f"<embedded {what}>"
    if data is not None:
        if encoding == "base64":
            try:
                raw = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise ProblemFileError(
                    f"{name}: data is not valid base64; re-embed the file "
                    "(hpcq embeds files given by path automatically)"
                ) from None
        else:
            raw = data.encode()
        if len(raw) > MAX_EMBED_BYTES:
            raise ProblemFileError(
                f"{name}: {len(raw)} bytes exceeds the {MAX_EMBED_BYTES} byte embed limit; "
                "put the file on the cluster filesystem and reference it (embed: false)"
            )
        return name, raw
    if not file:
        raise ProblemFileError(f"no {what} given; set file (a path) or data (embedded content)")
    path = Path(file)
    if not path.is_file():
        raise ProblemFileError(
            f"{file}: no such file here; embed it in the study (the default for a local "
            "path) or give a path that exists on the cluster filesystem"
        )
    return name, path.read_bytes()


# ------------------------------------------------------------------------------------------ FCIDUMP

_HDR = re.compile(r"(NORB|NELEC|MS2|ISYM)\s*=\s*(-?\d+)", re.I)


def fcidump_header(name: str, raw: bytes) -> dict[str, int]:
    """NORB, NELEC, MS2 from the namelist header (ends with &END or / within 10 lines)."""
    try:
        lines = raw.decode().splitlines()
    except UnicodeDecodeError:
        raise ProblemFileError(f"{name}: not a text file; an FCIDUMP is text starting with '&FCI NORB=...'") from None
    if not lines or "&FCI" not in lines[0].upper():
        raise ProblemFileError(
            f"{name}: line 1: an FCIDUMP starts with '&FCI NORB=n, NELEC=m, MS2=s,'; "
            "write it with pyscf.tools.fcidump.from_integrals"
        )
    head, head_lines = "", 0
    for line in lines[:10]:
        head, head_lines = head + " " + line, head_lines + 1
        if line.strip().upper() in ("&END", "/") or line.strip().upper().endswith(("&END", "/")):
            break
    else:
        raise ProblemFileError(f"{name}: the header does not close with &END or / within 10 lines; close it")
    vals = {k.upper(): int(v) for k, v in _HDR.findall(head)}
    for k in ("NORB", "NELEC"):
        if k not in vals:
            raise ProblemFileError(f"{name}: header: {k} is missing; add {k}=<int> to the &FCI line")
    vals.setdefault("MS2", 0)
    vals["header_lines"] = head_lines
    if "IUHF" in head.upper():
        raise ProblemFileError(
            f"{name}: header: unrestricted (IUHF) FCIDUMPs are not supported; write restricted integrals"
        )
    return vals


def load_fcidump(name: str, raw: bytes):
    """-> hpcq.sim.chem.molecule.Integrals (active space = the whole file)."""
    import tempfile

    import numpy as np
    from pyscf import ao2mo
    from pyscf.tools import fcidump

    from hpcq.sim.chem.molecule import Integrals

    hdr = fcidump_header(name, raw)
    lines = raw.decode().splitlines()
    n = hdr["NORB"]
    for ln, line in enumerate(lines[hdr["header_lines"] :], start=hdr["header_lines"] + 1):
        parts = line.replace(",", " ").split()
        if not parts:
            continue
        if len(parts) != 5:
            raise ProblemFileError(f"{name}: line {ln}: expected 'value i j k l', got {line.strip()!r}")
        try:
            float(parts[0].replace("D", "E").replace("d", "e"))
            idx = [int(p) for p in parts[1:]]
        except ValueError:
            raise ProblemFileError(
                f"{name}: line {ln}: {line.strip()!r} is not 'value i j k l' (a float and four integers)"
            ) from None
        if any(not 0 <= k <= n for k in idx):
            raise ProblemFileError(f"{name}: line {ln}: orbital index out of 0..NORB={n}")
    text = re.sub(r"(?<=\d)[dD](?=[-+]?\d)", "E", raw.decode())  # Fortran exponents
    with tempfile.NamedTemporaryFile("w", suffix=".fcidump") as tmp:
        tmp.write(text)
        tmp.flush()
        try:
            d = fcidump.read(tmp.name, verbose=False)
        except Exception as exc:  # noqa: BLE001 - PySCF raises assorted errors on malformed files
            raise ProblemFileError(f"{name}: PySCF could not read it ({exc}); check the integral lines") from None
    nelec_t, ms2 = int(d["NELEC"]), int(d.get("MS2", 0))
    if (nelec_t + ms2) % 2 or nelec_t > 2 * n:
        raise ProblemFileError(f"{name}: header: NELEC={nelec_t}, MS2={ms2} is inconsistent with NORB={n}")
    h2 = ao2mo.restore(1, np.asarray(d["H2"]), n)
    return Integrals(
        h1=np.asarray(d["H1"], dtype=float),
        h2=np.asarray(h2, dtype=float),
        ecore=float(d.get("ECORE", 0.0)),
        norb=n,
        nelec=((nelec_t + ms2) // 2, (nelec_t - ms2) // 2),
        info={"source": name},
    )


# ------------------------------------------------------------------------------------------ Pauli lists


def _is_hdf5(raw: bytes) -> bool:
    return raw[:8] == b"\x89HDF\r\n\x1a\n"


def _pauli_json(name: str, raw: bytes) -> dict:
    try:
        doc = json.loads(raw.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProblemFileError(
            f"{name}: not valid JSON ({exc}); a Pauli file is "
            '{"labels": [...], "coeffs": [...], "num_particles": [na, nb]}'
        ) from None
    if not isinstance(doc, dict):
        raise ProblemFileError(f"{name}: the top level must be an object with labels, coeffs, num_particles")
    return doc


def _pauli_hdf5(name: str, raw: bytes) -> dict:
    import io

    import h5py
    import numpy as np

    with h5py.File(io.BytesIO(raw), "r") as f:
        for k in ("labels", "coeffs"):
            if k not in f:
                raise ProblemFileError(f"{name}: dataset /{k} is missing; write labels (strings) and coeffs")
        labels = [v.decode() if isinstance(v, bytes) else str(v) for v in f["labels"][()]]
        c = np.asarray(f["coeffs"][()])
        doc = {"labels": labels, "coeffs": [[float(v.real), float(v.imag)] for v in c.astype(complex)]}
        for k in ("num_particles", "mapping"):
            if k in f.attrs:
                v = f.attrs[k]
                doc[k] = v.decode() if isinstance(v, bytes) else (v.tolist() if hasattr(v, "tolist") else v)
    return doc


def pauli_header(name: str, raw: bytes) -> dict:
    """Validated document {labels, coeffs (complex), num_particles, mapping?, n_qubits}."""
    doc = _pauli_hdf5(name, raw) if _is_hdf5(raw) else _pauli_json(name, raw)
    labels, coeffs = doc.get("labels"), doc.get("coeffs")
    if not isinstance(labels, list) or not labels:
        raise ProblemFileError(f"{name}: field labels: give a non-empty list of Pauli strings like 'IZXY'")
    if not isinstance(coeffs, list) or len(coeffs) != len(labels):
        raise ProblemFileError(
            f"{name}: field coeffs: give one coefficient per label ({len(labels)}); "
            f"got {len(coeffs) if isinstance(coeffs, list) else type(coeffs).__name__}"
        )
    n = len(labels[0]) if isinstance(labels[0], str) else 0
    out = []
    for i, (lbl, c) in enumerate(zip(labels, coeffs, strict=True)):
        if not isinstance(lbl, str) or len(lbl) != n or set(lbl) - set("IXYZ"):
            raise ProblemFileError(
                f"{name}: field labels[{i}]: {lbl!r} is not a Pauli string of length {n} "
                "over I, X, Y, Z (qubit 0 rightmost)"
            )
        if isinstance(c, (int, float)) and not isinstance(c, bool):
            out.append(complex(c))
        elif isinstance(c, list) and len(c) == 2 and all(isinstance(v, (int, float)) for v in c):
            out.append(complex(c[0], c[1]))
        else:
            raise ProblemFileError(f"{name}: field coeffs[{i}]: {c!r} is not a number or [re, im]")
    if any(abs(c.imag) > 1e-12 for c in out):
        raise ProblemFileError(
            f"{name}: field coeffs: imaginary parts found; a Hamiltonian has real Pauli coefficients"
        )
    doc["coeffs"] = out
    doc["n_qubits"] = n
    npart = doc.get("num_particles")
    if npart is not None and not (
        isinstance(npart, list) and len(npart) == 2 and all(isinstance(v, int) and v >= 0 for v in npart)
    ):
        raise ProblemFileError(f"{name}: field num_particles: {npart!r}; give [n_alpha, n_beta]")
    return doc


def load_pauli(name: str, raw: bytes):
    from qiskit.quantum_info import SparsePauliOp

    doc = pauli_header(name, raw)
    return SparsePauliOp(doc["labels"], [c.real for c in doc["coeffs"]]).simplify(atol=0), doc


# ------------------------------------------------------------------------------------------ circuits


def load_circuit(name: str, raw: bytes, fmt: str):
    """An ansatz from OpenQASM 3 (text) or QPY (binary); its free parameters are the VQE's."""
    if fmt == "qpy":
        import io

        from qiskit import qpy

        try:
            circs = qpy.load(io.BytesIO(raw))
        except Exception as exc:  # noqa: BLE001 - QPY raises QpyError/struct errors on bad input
            raise ProblemFileError(f"{name}: not a QPY file ({exc}); write it with qiskit.qpy.dump") from None
        if len(circs) != 1:
            raise ProblemFileError(f"{name}: holds {len(circs)} circuits; store exactly one ansatz")
        return circs[0]
    from qiskit import qasm3

    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise ProblemFileError(f"{name}: not text; an OpenQASM 3 file starts with 'OPENQASM 3.0;'") from None
    try:
        return qasm3.loads(text)
    except Exception as exc:  # noqa: BLE001 - the importer raises QASM3ImporterError with a line
        raise ProblemFileError(
            f"{name}: OpenQASM 3 parse error: {exc}; declare angles as 'input float[64] "
            "theta;' and use standard gates (stdgates.inc)"
        ) from None
