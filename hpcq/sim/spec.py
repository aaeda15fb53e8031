"""Pydantic models of a VQE sweep. Imports NO Qiskit: the executor validates kwargs with these on
the login node, and sizes the Slurm job from ``SweepParams.footprints()`` (hpcq.sim.memory).

A sweep is the Cartesian product problems x ansatze x optimizers x noise x seeds; ``tasks()``
expands it into ``TaskSpec``s whose ids are a hash of their content (stable across runs, rank
counts and sweep order).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from hpcq.sim.memory import DENSE_MAX_QUBITS

# Simulated register size of the fake backends we accept (qiskit-ibm-runtime, offline).
FAKE_BACKENDS = {
    "FakeManilaV2": 5,
    "FakeLimaV2": 5,
    "FakeBelemV2": 5,
    "FakeQuitoV2": 5,
    "FakeAthensV2": 5,
    "FakeNairobiV2": 7,
    "FakeLagosV2": 7,
    "FakeJakartaV2": 7,
}
# A sanity bound on register sizes only: the real limit follows from method, precision and the
# allocation (hpcq.sim.memory, checked by the executor before queueing and by ``hpcq run``).
MAX_QUBITS = 10_000
# "automatic" with gate noise picks the faster method by a cost model (the ONE place for the rule;
# hpcq.workflow.steps.method_reason explains it): per gate, a density-matrix evaluation costs
# AUTO_DM_COST_RATIO * 4^n, one statevector trajectory 2^n, and a noisy statevector evaluation runs
# ``shots`` trajectories. Density matrix when AUTO_DM_COST_RATIO * 4^n <= shots * 2^n and its state
# (hpcq.sim.memory: 16*4^n bytes in double) fits AUTO_DENSITY_MATRIX_MAX_BYTES, else trajectories.
# The ratio is t_dm / (t_trajectory * 2^n) measured by bench/bench_water.py on water at 8-12 qubits
# (0.025-0.088, docs/performance.md "Water noise study"), rounded up to 0.1 (favours trajectories).
# With the default shots 1024: density matrix up to 13 qubits (1 GiB), trajectories from 14.
AUTO_DM_COST_RATIO = 0.1
AUTO_DENSITY_MATRIX_MAX_BYTES = 2 * 1024**3


def auto_method(n_qubits: int, shots: int, precision: str = "double") -> dict[str, Any]:
    """The cost model's numbers and choice for a noisy task of ``n_qubits`` simulated qubits."""
    from hpcq.sim import memory

    dm_cost = AUTO_DM_COST_RATIO * 4.0**n_qubits
    traj_cost = float(shots) * 2.0**n_qubits
    dm_bytes = memory.state_bytes(n_qubits, "density_matrix", precision)
    faster = dm_cost <= traj_cost
    fits = dm_bytes <= AUTO_DENSITY_MATRIX_MAX_BYTES
    return {
        "method": "density_matrix" if faster and fits else "statevector",
        "dm_cost": dm_cost,
        "trajectories_cost": traj_cost,
        "dm_bytes": dm_bytes,
        "dm_faster": faster,
        "dm_fits": fits,
    }


def safe_name(v: str, fix: str) -> str:
    """``v`` when it has only letters, digits, '-', '_' and '.' (it goes into file names: a study,
    a primitive run's label), else a ValueError that ends with ``fix``."""
    if not all(c.isalnum() or c in "-_." for c in v):
        raise ValueError(f"{v!r} has characters other than letters, digits, '-', '_', '.'; {fix}")
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _probability(v: float | None, info) -> float | None:
    if v is not None and not 0.0 <= v <= 1.0:
        raise ValueError(f"{v} is not a probability; use 0 <= {info.field_name} <= 1")
    return v


CHEM_MAX_QUBITS = 24  # molecule/fcidump/pauli: exact sector references and UCCSD stay tractable


class ScanPoint(_Strict):
    """Where a problem lies on its study's scan (set by hpcq.sim.scan when a ``scan`` entry is
    expanded): the coordinate's name (bond_length, angle, a Z-matrix variable, geometry), its value
    and unit (angstrom, bohr, degree, or '' for a geometry's index)."""

    name: str = Field(min_length=1, max_length=64)
    value: float
    unit: str = Field("", max_length=16)


class ProblemSpec(_Strict):
    """h2: STO-3G H2 from closed-form integrals (bond_length in Å; total energies in Ha, the nuclear
    repulsion in the identity term, equal to molecule h2's); molecule: PySCF RHF + active space,
    energies are totals in Ha (nuclear repulsion and frozen core in the constant); fcidump / pauli:
    a Hamiltonian brought as data (file by reference, or data embedded in the study); tfim: H = -J
    sum Z_i Z_i+1 - h sum X_i; heisenberg: H = J sum (XX+YY+ZZ) + h sum Z_i. docs/chemistry.md has
    the chemistry fields."""

    kind: Literal["h2", "tfim", "heisenberg", "molecule", "fcidump", "pauli"]
    bond_length: float | None = Field(None, description="Å, h2 only (0.2-5.0)")
    mapping: Literal["parity", "jordan_wigner", "bravyi_kitaev"] = "parity"
    n_qubits: int | None = Field(None, description="chain length, tfim/heisenberg only (2-16)")
    J: float = 1.0
    h: float | None = None
    boundary: Literal["open", "periodic"] = "open"
    # molecule
    geometry: str | list[list[str | float]] | None = Field(
        None,
        description="built-in name (h2, lih, h2o, beh2, n2), [[symbol, x, y, z], ...], a PySCF atom "
        "string, XYZ text or file, or a Z-matrix (hpcq.sim.chem.geometry)",
    )
    unit: Literal["angstrom", "bohr"] = Field("angstrom", description="molecule: unit of the coordinates given")
    basis: str = Field("sto-3g", min_length=1, max_length=40)
    charge: int = Field(0, ge=-10, le=10)
    spin: int = Field(0, ge=0, le=20, description="2S = N_alpha - N_beta")
    active_electrons: int | None = Field(None, ge=1)
    active_orbitals: int | None = Field(None, ge=1)
    freeze_core: bool = False
    # fcidump / pauli: the file, embedded (data) or by reference (file = a cluster path)
    file: str | None = Field(None, max_length=4096, description="path (cluster) or name of the embedded file")
    data: str | None = Field(None, description="embedded content: text, or base64 (encoding) for binary")
    encoding: Literal["text", "base64"] = "text"
    num_particles: list[int] | None = Field(None, description="pauli: [n_alpha, n_beta] for the sector")
    reference: Literal["exact", "skip"] = Field(
        "exact", description="chemistry: skip = no exact reference (too large to compute; no errors recorded)"
    )
    scan_point: ScanPoint | None = Field(None, description="set by a study's scan (hpcq.sim.scan): the coordinate")

    @model_serializer(mode="wrap")
    def _drop_new_defaults(self, handler):
        """unit/reference/scan_point at their defaults stay out of the dump: task ids of older studies are stable."""
        data = handler(self)
        for k, default in (("unit", "angstrom"), ("reference", "exact"), ("scan_point", None)):
            if data.get(k) == default:
                del data[k]
        return data

    @model_validator(mode="before")
    @classmethod
    def _read_xyz(cls, data):
        """geometry: a path to a readable .xyz file becomes its text (the spec carries content)."""
        geo = data.get("geometry") if isinstance(data, dict) else None
        if isinstance(geo, str):
            from pathlib import Path

            from hpcq.sim.chem.geometry import looks_like_xyz_path

            path = Path(geo.strip()).expanduser()
            if looks_like_xyz_path(geo) and path.is_file():
                data = dict(data, geometry=path.read_text())
        return data

    @model_validator(mode="after")
    def _check(self):
        chem = ("geometry", "active_electrons", "active_orbitals")
        if self.kind != "molecule":
            extra = [f for f in chem if getattr(self, f) is not None]
            if self.unit != "angstrom":
                extra.append("unit")
            if extra:
                raise ValueError(f"{', '.join(extra)} apply to kind 'molecule' only; remove them for {self.kind!r}")
        if self.reference == "skip" and self.kind not in ("molecule", "fcidump", "pauli"):
            raise ValueError(
                f"reference: skip applies to chemistry kinds (molecule, fcidump, pauli); remove it for {self.kind!r}"
            )
        if self.kind not in ("fcidump", "pauli") and (self.file or self.data):
            raise ValueError(f"file/data apply to kinds 'fcidump' and 'pauli' only; remove them for {self.kind!r}")
        if self.kind == "h2":
            self._check_h2()
            return self
        if self.bond_length is not None:
            raise ValueError(f"bond_length applies to kind 'h2' only; remove it for {self.kind!r}")
        if self.kind in ("tfim", "heisenberg"):
            if self.n_qubits is None:
                raise ValueError(f"n_qubits is required for kind {self.kind!r}; use 2-{MAX_QUBITS}")
            if not 2 <= self.n_qubits <= MAX_QUBITS:
                raise ValueError(f"n_qubits {self.n_qubits} is out of range; use 2-{MAX_QUBITS}")
            return self
        self._check_chemistry()
        return self

    def _check_h2(self) -> None:
        if self.bond_length is None:
            raise ValueError("bond_length is required for kind 'h2'; give it in Å, e.g. 0.735")
        if not 0.2 <= self.bond_length <= 5.0:
            raise ValueError(f"bond_length {self.bond_length} Å is out of range; use 0.2-5.0 Å")
        if self.mapping == "bravyi_kitaev":
            raise ValueError(
                "mapping: kind 'h2' offers parity and jordan_wigner; for bravyi_kitaev use "
                "{kind: molecule, geometry: h2}"
            )
        if self.n_qubits not in (None, self.qubits):
            raise ValueError(f"n_qubits: h2 with mapping {self.mapping} has {self.qubits} qubits; leave n_qubits out")

    def _check_chemistry(self) -> None:
        """molecule / fcidump / pauli: the geometry or file, and the qubits they give."""
        if self.kind == "molecule":
            if self.geometry is None:
                raise ValueError(
                    "geometry is required for kind 'molecule'; give h2, lih, h2o, beh2, n2 or "
                    "[[symbol, x, y, z], ...] in Å"
                )
            if self.n_qubits is not None:
                raise ValueError(
                    "n_qubits: a molecule's qubits follow from the active space and mapping; "
                    "remove n_qubits (set active_orbitals instead)"
                )
        declared = self.kind in ("fcidump", "pauli") and self.n_qubits is not None and not self.by_reference
        if declared and self.n_qubits != self.qubits:
            raise ValueError(
                f"n_qubits: {self.n_qubits} but the file gives {self.qubits} qubits with mapping "
                f"{self.mapping}; fix n_qubits or leave it out"
            )
        q = self.qubits  # parses headers / sizes the active space: raises with the field and fix
        if self.kind == "pauli" and not self.by_reference:
            self._size()  # the sector (num_particles) must be known
        if not 1 <= q <= CHEM_MAX_QUBITS:
            raise ValueError(
                f"this problem needs {q} qubits; chemistry problems are limited to {CHEM_MAX_QUBITS} "
                "(exact sector references, UCCSD): use a smaller active space (active_electrons, "
                "active_orbitals) or mapping parity"
            )

    def _size(self) -> tuple[int, tuple[int, int]]:
        """(spatial orbitals in the active space, (n_alpha, n_beta)) for chemistry kinds."""
        from hpcq.sim.chem import files, geometry

        if self.kind == "molecule":
            _, ncas, nelec = geometry.molecule_size(
                self.geometry,
                self.basis,
                self.charge,
                self.spin,
                self.active_electrons,
                self.active_orbitals,
                self.freeze_core,
                self.unit,
            )
            return ncas, nelec
        if self.kind == "fcidump":
            name, raw = files.source_bytes(self.file, self.data, self.encoding, "FCIDUMP")
            hdr = files.fcidump_header(name, raw)
            ne, ms2 = hdr["NELEC"], hdr["MS2"]
            return hdr["NORB"], ((ne + ms2) // 2, (ne - ms2) // 2)
        name, raw = files.source_bytes(self.file, self.data, self.encoding, "Pauli file")
        doc = files.pauli_header(name, raw)
        npart = self.num_particles or doc.get("num_particles")
        if npart is None:
            raise ValueError(
                f"{name}: num_particles is missing; give [n_alpha, n_beta] in the file or the "
                "problem (the exact reference is computed in that sector)"
            )
        n = doc["n_qubits"]
        norb = (n + 2) // 2 if self.mapping == "parity" else n // 2
        if (n + (2 if self.mapping == "parity" else 0)) % 2:
            raise ValueError(
                f"{name}: {n} qubits is odd; a {self.mapping} Hamiltonian has an even count (check mapping)"
            )
        return norb, (int(npart[0]), int(npart[1]))

    @property
    def by_reference(self) -> bool:
        """A file on the cluster filesystem that is not readable here: sized by its declared n_qubits."""
        import os

        return (
            self.kind in ("fcidump", "pauli")
            and self.data is None
            and self.n_qubits is not None
            and bool(self.file)
            and not os.path.isfile(self.file)
        )

    @property
    def electrons(self) -> tuple[int, int] | None:
        """(n_alpha, n_beta) of the active space; None for spin chains."""
        if self.kind in ("tfim", "heisenberg"):
            return None
        if self.kind == "h2":
            return (1, 1)
        return self._size()[1]

    @property
    def spatial_orbitals(self) -> int | None:
        if self.kind in ("tfim", "heisenberg"):
            return None
        return 2 if self.kind == "h2" else self._size()[0]

    @property
    def qubits(self) -> int:
        if self.kind == "h2":
            return 2 if self.mapping == "parity" else 4
        if self.kind in ("molecule", "fcidump", "pauli"):
            if self.by_reference:
                return int(self.n_qubits)
            if self.kind == "pauli":
                from hpcq.sim.chem import files

                return files.pauli_header(*files.source_bytes(self.file, self.data, self.encoding, "Pauli file"))[
                    "n_qubits"
                ]
            norb = self._size()[0]
            return 2 * norb - 2 if self.mapping == "parity" else 2 * norb
        return int(self.n_qubits)

    @property
    def reference_bytes(self) -> int:
        """Peak bytes of this problem's exact reference (hpcq.sim.memory; 0 when skipped or
        trivial): PySCF FCI for integrals (plus the small sector cross-check), the qubit sector
        for Pauli lists, a sparse Lanczos over 2^n for spin chains."""
        from hpcq.sim import memory

        if self.reference == "skip" or self.kind == "h2" or self.by_reference:
            return 0
        if self.kind in ("tfim", "heisenberg"):
            n = self.qubits
            if n <= 8 or (self.kind == "tfim" and self.boundary == "open" and n > 16):
                return 0
            patterns = (n if self.kind == "tfim" else 2 * n) + 1
            return (1 << n) * (patterns * 24 * 2 + 20 * 16)
        norb, nelec = self._size()
        dim = memory.sector_dim(norb, nelec)
        if self.kind == "pauli":
            from hpcq.sim.chem import files

            doc = files.pauli_header(*files.source_bytes(self.file, self.data, self.encoding, "Pauli file"))
            k = len({lbl.replace("Z", "I").replace("Y", "X") for lbl in doc["labels"]})
            return memory.sector_bytes(dim, k, self.qubits)
        cross = min(memory.sector_bytes(dim, dim, self.qubits), memory.SECTOR_CROSSCHECK_BYTES)
        return max(memory.fci_bytes(norb, nelec), cross)

    @property
    def field(self) -> float:
        """Transverse / longitudinal field strength (default 1.0 for tfim, 0.0 for heisenberg)."""
        if self.h is not None:
            return self.h
        return 1.0 if self.kind == "tfim" else 0.0


class InitialPointSpec(_Strict):
    """Where the optimiser starts (AnsatzSpec.initial_point): hf = the Hartree-Fock point (zero
    angles of an ansatz built on the HF state), zeros, random (uniform in [-pi, pi), seeded by
    ``seed``, default the task's seed), values (explicit angles), file (.npy or .txt of angles,
    embedded at submit time: data, base64 for .npy). Shorthands in a study: ``hf``, ``random``,
    ``zeros``, a list of numbers, or a file name ending .npy/.txt."""

    kind: Literal["hf", "zeros", "random", "values", "file"]
    seed: int | None = Field(None, ge=0, lt=2**31, description="random only; default the task's seed")
    values: list[float] | None = Field(None, description="values only: one angle per ansatz parameter")
    file: str | None = Field(None, max_length=4096, description="file only: .npy or .txt (embedded name or path)")
    data: str | None = Field(None, description="file only: the embedded content (.npy: base64)")

    @model_validator(mode="after")
    def _check(self):
        own = {"random": ("seed",), "values": ("values",), "file": ("file", "data")}.get(self.kind, ())
        extra = [f for f in ("seed", "values", "file", "data") if getattr(self, f) is not None and f not in own]
        if extra:
            raise ValueError(f"{', '.join(extra)} do not apply to initial_point kind {self.kind!r}; remove them")
        if self.kind == "values" and not self.values:
            raise ValueError("initial_point: values needs a non-empty list of angles, e.g. [0.0, 0.1]")
        if self.kind == "file" and (not self.file or not self.file.lower().endswith((".npy", ".txt"))):
            raise ValueError("initial_point.file: give a .npy or .txt file of angles, e.g. x0.npy")
        return self


def _initial_point_shorthand(v: Any) -> Any:
    """``hf`` / ``random`` / ``zeros`` / [angles] / 'x0.npy' -> the InitialPointSpec fields."""
    if isinstance(v, str):
        return {"kind": v} if v in ("hf", "zeros", "random") else {"kind": "file", "file": v}
    if isinstance(v, (list, tuple)):
        return {"kind": "values", "values": list(v)}
    return v


class AnsatzSpec(_Strict):
    """Hardware-efficient families (efficient_su2, real_amplitudes, two_local; on chemistry problems
    they start from the Hartree-Fock state unless initial_state: zero), uccsd (HF + UCCSD,
    PauliEvolutionGate per excitation, starts at theta = 0 = HF), or a circuit brought as data
    (qasm3: OpenQASM 3 text with `input float` angles; qpy: base64 QPY), embedded or by path, or
    lucj (ffsim's LUCJ, extra hpcq[lucj], Jordan-Wigner only; reps = its n_reps; parameters are
    displacements from CCSD t-amplitudes or zeros = HF: hpcq.sim.chem.lucj), or hva (the TFIM's
    Hamiltonian variational ansatz: |+>^n, then reps layers of RZZ(gamma_l) on every bond and
    RX(beta_l) on every qubit, 2 parameters per layer shared by all sites; tfim problems only)."""

    kind: Literal["efficient_su2", "real_amplitudes", "two_local", "uccsd", "qasm3", "qpy", "lucj", "hva"] = (
        "efficient_su2"
    )
    reps: int = Field(2, ge=1, le=20)
    initial_state: Literal["auto", "hf", "zero"] = Field(
        "auto", description="auto = Hartree-Fock on chemistry problems, |0...0> otherwise"
    )
    file: str | None = Field(None, max_length=4096, description="qasm3/qpy: path (cluster) or embedded name")
    data: str | None = Field(None, description="qasm3: the text; qpy: base64")
    entanglement: Literal["linear", "reverse_linear", "full", "circular", "pairwise"] = "linear"
    rotation_blocks: list[str] = Field(default_factory=lambda: ["ry"], description="two_local only")
    entanglement_blocks: str = Field("cx", description="two_local only")
    # lucj only (left out of the serialised spec when at their defaults: task ids stay stable)
    interaction: Literal["local", "all"] = Field(
        "local", description="lucj: local = aa neighbours + ab on-site (LUCJ), all = every pair (UCJ)"
    )
    pairs_aa: list[list[int]] | None = Field(None, description="lucj: explicit alpha-alpha pairs [[i, j], ...]")
    pairs_ab: list[list[int]] | None = Field(None, description="lucj: explicit alpha-beta pairs [[i, j], ...]")
    initial_parameters: Literal["ccsd", "zeros"] = Field(
        "ccsd", description="lucj: start from PySCF CCSD t-amplitudes or zeros (= HF)"
    )
    final_orbital_rotation: bool = Field(True, description="lucj: end with an orbital rotation (t1)")
    # where the optimiser starts, and how often (left out of the dump at their defaults: stable ids)
    initial_point: InitialPointSpec | None = Field(
        None, description="hf | zeros | random | [angles] | x0.npy/.txt; default: HF point where the ansatz has one"
    )
    restarts: int = Field(1, ge=1, le=100, description="runs from initial_point, then seeded random points; best kept")

    @field_validator("initial_point", mode="before")
    @classmethod
    def _initial_point(cls, v: Any) -> Any:
        return _initial_point_shorthand(v)

    @model_serializer(mode="wrap")
    def _drop_lucj_defaults(self, handler):
        data = handler(self)
        for k, default in {**_LUCJ_DEFAULTS, **_START_DEFAULTS}.items():
            if k in data and data[k] == default:
                del data[k]
        return data

    @model_validator(mode="after")
    def _check_lucj(self):
        if self.kind != "lucj":
            set_ = [k for k, d in _LUCJ_DEFAULTS.items() if getattr(self, k) != d]
            if set_:
                raise ValueError(f"{', '.join(set_)} apply to ansatz kind 'lucj' only; remove them for {self.kind!r}")
            return self
        import importlib.util

        if importlib.util.find_spec("ffsim") is None:
            raise ValueError(
                "kind: lucj needs ffsim, which is not installed here; install the extra: pip install 'hpcq[lucj]'"
            )
        return self

    @field_validator("rotation_blocks")
    @classmethod
    def _rot(cls, v: list[str]) -> list[str]:
        bad = [g for g in v if g not in ("rx", "ry", "rz")]
        if bad or not v:
            raise ValueError(f"{bad or v} not allowed; use a non-empty list of 'rx', 'ry', 'rz'")
        return v

    @field_validator("entanglement_blocks")
    @classmethod
    def _ent(cls, v: str) -> str:
        if v not in ("cx", "cz"):
            raise ValueError(f"{v!r} not allowed; use 'cx' or 'cz'")
        return v


_LUCJ_DEFAULTS = {
    "interaction": "local",
    "pairs_aa": None,
    "pairs_ab": None,
    "initial_parameters": "ccsd",
    "final_orbital_rotation": True,
}
_START_DEFAULTS = {"initial_point": None, "restarts": 1}  # any ansatz; out of the dump at defaults


class OptimizerSpec(_Strict):
    """cobyla / spsa (own implementation, seeded) / l_bfgs_b (gradient: parameter_shift or
    finite_difference; intended for noiseless runs)."""

    kind: Literal["cobyla", "spsa", "l_bfgs_b"] = "cobyla"
    maxiter: int = Field(200, ge=1, le=100_000)
    tol: float | None = Field(None, gt=0)
    gradient: Literal["parameter_shift", "finite_difference"] = "parameter_shift"
    learning_rate: float | None = Field(None, gt=0, description="spsa a; calibrated when absent")
    perturbation: float = Field(0.1, gt=0, description="spsa c")


class NoiseSpec(_Strict):
    """none | depolarizing(p, p2) | bit_flip(p, p2) | thermal(t1, t2, gate times) | readout(p)
    | fake_backend(backend). p acts on one-qubit gates, p2 (default = p) on two-qubit gates."""

    kind: Literal["none", "depolarizing", "bit_flip", "thermal", "readout", "fake_backend"] = "none"
    p: float | None = None
    p2: float | None = None
    t1: float | None = Field(None, description="seconds, or a duration with its unit: 100us")
    t2: float | None = Field(None, description="seconds, or a duration with its unit: 70us")
    gate_time_1q: float = Field(50e-9, gt=0, description="seconds, or with its unit: 50ns")
    gate_time_2q: float = Field(300e-9, gt=0, description="seconds, or with its unit: 300ns")
    backend: str | None = None

    _prob = field_validator("p", "p2")(_probability)

    @field_validator("t1", "t2", "gate_time_1q", "gate_time_2q", mode="before")
    @classmethod
    def _seconds(cls, v: Any, info) -> Any:
        """A duration with its unit ('100us', '50 µs', '0.3ms', '35ns') becomes seconds; a bare
        number is seconds and is refused where no qubit has it (t1/t2 >= 1 s, gate times >= 1 ms:
        ``t1: 100`` meant as µs would silently be a noiseless 100 s)."""
        from hpcq.units import duration_seconds

        name = info.field_name
        if isinstance(v, str):
            sec = duration_seconds(v)
            if sec is None:
                raise ValueError(f"{v!r} is not a duration; write e.g. {name}: 100us (units s, ms, us, ns)")
            return sec
        limit = 1.0 if name in ("t1", "t2") else 1e-3
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= limit:
            raise ValueError(
                f"{v} s is implausible for {name} (a bare number is seconds); give the unit, e.g. "
                f"{name}: {v:g}us or {v:g}ns, or seconds such as {v:g}e-6"
            )
        return v

    @model_validator(mode="after")
    def _check(self):
        k = self.kind
        if k in ("depolarizing", "bit_flip", "readout") and self.p is None:
            raise ValueError(f"p is required for noise kind {k!r}; give a probability 0 <= p <= 1")
        if k == "thermal":
            if self.t1 is None or self.t2 is None or self.t1 <= 0 or self.t2 <= 0:
                raise ValueError("t1 and t2 (seconds, > 0) are required for thermal noise, e.g. t1=50e-6, t2=70e-6")
            if self.t2 > 2 * self.t1:
                raise ValueError(f"t2={self.t2} exceeds 2*t1={2 * self.t1}, which is unphysical; use t2 <= 2*t1")
        if k == "fake_backend" and self.backend not in FAKE_BACKENDS:
            raise ValueError(
                f"backend {self.backend!r} is not supported; use one of " + ", ".join(sorted(FAKE_BACKENDS))
            )
        return self

    @property
    def label(self) -> str:
        return self.kind


Method = Literal["statevector", "density_matrix", "matrix_product_state", "automatic"]
Device = Literal["auto", "CPU", "GPU"]
Precision = Literal["double", "single"]
# tasks: ranks share the sweep, each task on one rank; trajectories: every noisy statevector task's
# shots are split over all ranks (tasks one after another); statevector: one circuit over all ranks
# (an MPI-built Aer, profile aer: mpi).
Parallel = Literal["tasks", "trajectories", "statevector"]
TRAJECTORY_BLOCK = 32  # shots per seeded trajectory block: the unit that ranks share


class MPSSpec(_Strict):
    """Matrix product state controls (method matrix_product_state). A truncated MPS energy is NOT
    variational: it can fall below the true ground energy; both values are recorded in the file."""

    bond_dimension: int | None = Field(None, ge=1, le=1 << 16, description="max bond dimension chi; None = exact")
    truncation_threshold: float = Field(1e-16, gt=0, lt=1, description="discarded Schmidt weight per SVD")


class DistributionsSpec(_Strict):
    """What a result file keeps of the output distributions: up to ``max_qubits`` simulated qubits
    the full 2^n probabilities; above (and for matrix_product_state) ``shots`` sampled counts per
    distribution, with entropy/JSD estimated from them (docs/results-format.md)."""

    max_qubits: int = Field(
        DENSE_MAX_QUBITS, ge=1, le=26, description="largest register whose full 2^n distributions go into the file"
    )
    shots: int = Field(4096, ge=1, le=10_000_000, description="samples per distribution above max_qubits")


class TaskSpec(_Strict):
    """One VQE run: everything needed to reproduce it bit for bit."""

    task_id: str
    step: Literal["vqe", "noise"]
    parent_task_id: str
    problem: ProblemSpec
    ansatz: AnsatzSpec
    optimizer: OptimizerSpec
    noise: NoiseSpec
    seed: int
    method: Method
    shots: int
    device: Device = "auto"
    precision: Precision = "double"
    parallel: Parallel = "tasks"
    mps: MPSSpec = Field(default_factory=MPSSpec)
    distributions: DistributionsSpec = Field(default_factory=DistributionsSpec)

    @property
    def sampled_distributions(self) -> bool:
        """The file keeps sampled counts instead of full 2^n distributions."""
        return self.resolved_method == "matrix_product_state" or self.simulated_qubits > self.distributions.max_qubits

    @property
    def simulated_qubits(self) -> int:
        if self.noise.kind == "fake_backend":
            return max(self.problem.qubits, FAKE_BACKENDS[self.noise.backend])
        return self.problem.qubits

    @property
    def resolved_method(self) -> str:
        """'automatic' resolved here (not by Aer) so the choice is recorded and reproducible."""
        if self.method != "automatic":
            return self.method
        if not self.noisy:
            return "statevector"
        return auto_method(self.simulated_qubits, self.shots, self.precision)["method"]

    @property
    def noisy(self) -> bool:
        return self.noise.kind not in ("none", "readout")

    def entangling_gates(self) -> list[tuple[int, int, int]] | None:
        """The ansatz's two-qubit gates as (q0, q1, operator Schmidt rank), in circuit order, for the
        families whose structure the spec fixes (efficient_su2, real_amplitudes, two_local: ``reps``
        layers of the entanglement pattern; hva: ``reps`` layers of RZZ on every bond); None for
        circuits it does not fix without building them (uccsd, lucj, files) and for fake backends
        (their routing adds swaps). Without Qiskit: the executor and the client size jobs with it."""
        from hpcq.sim import memory

        a, n = self.ansatz, self.problem.qubits
        if self.noise.kind == "fake_backend" or n < 2:
            return None
        if a.kind == "hva":
            pairs = [(i, i + 1) for i in range(0, n - 1, 2)] + [(i, i + 1) for i in range(1, n - 1, 2)]
            if self.problem.boundary == "periodic" and n > 2:
                pairs.append((n - 1, 0))
            return [(i, j, 2) for _ in range(a.reps) for i, j in pairs]
        if a.kind not in ("efficient_su2", "real_amplitudes", "two_local"):
            return None
        rank = memory.gate_schmidt_rank(a.entanglement_blocks if a.kind == "two_local" else "cx")
        chain = [(i, i + 1) for i in range(n - 1)]
        layer = {
            "linear": chain,
            "reverse_linear": chain[::-1],
            "pairwise": chain[::2] + chain[1::2],
            "circular": ([(n - 1, 0)] if n > 2 else []) + chain,
            "full": [(i, j) for i in range(n) for j in range(i + 1, n)],
        }[a.entanglement]
        return [(i, j, rank) for _ in range(a.reps) for i, j in layer]

    def mps_circuit_bond(self) -> int | None:
        """The bond dimension this task's circuit can reach (hpcq.sim.memory.mps_bond_bound), None if
        the spec does not fix its entangling gates."""
        from hpcq.sim import memory

        gates = self.entangling_gates()
        return None if gates is None else memory.mps_bond_bound(self.problem.qubits, gates)

    def footprint(self, ranks: int = 1, gpus_per_rank: int = 0):
        """This task's memory (hpcq.sim.memory.Footprint); ``ranks`` > 1 = one distributed state.
        A matrix product state is budgeted at the least of mps.bond_dimension and the circuit's bound."""
        from hpcq.sim import memory

        mps = self.resolved_method == memory.MPS
        return memory.footprint(
            self.simulated_qubits,
            self.resolved_method,
            self.precision,
            ranks=ranks,
            gpus_per_rank=gpus_per_rank,
            bond_dimension=self.mps.bond_dimension,
            dense_results=not self.sampled_distributions,
            reference_bytes=self.problem.reference_bytes,
            circuit_bond=self.mps_circuit_bond() if mps else None,
        )


# What a task takes from its sweep: fields that are part of every task id, and scale fields that
# enter the id only when set (so ids of studies written before they existed stay stable).
TASK_ID_FIELDS = ("method", "shots", "device")
TASK_SCALE_DEFAULTS: dict[str, Any] = {
    "precision": "double",
    "parallel": "tasks",
    "mps": MPSSpec(),
    "distributions": DistributionsSpec(),
}


def _dumped(v: Any) -> Any:
    return v.model_dump(mode="json") if isinstance(v, BaseModel) else v


def _task_id(content: dict[str, Any]) -> str:
    """kind[-scan point]-noise-seed-hash: readable in node names and progress lines."""
    from hpcq.sim.scan import slug

    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:10]
    p, n = content["problem"], content["noise"]
    point = slug(p.get("scan_point"))
    return f"{p['kind']}{'-' + point if point else ''}-{n['kind']}-s{content['seed']}-{digest}"


class SweepParams(_Strict):
    """kwargs of the catalog function ``vqe_sweep``."""

    study: str = Field("study", min_length=1, max_length=100)
    problems: list[ProblemSpec] = Field(min_length=1)
    ansatze: list[AnsatzSpec] = Field(default_factory=lambda: [AnsatzSpec()], min_length=1)
    optimizers: list[OptimizerSpec] = Field(default_factory=lambda: [OptimizerSpec()], min_length=1)
    noise: list[NoiseSpec] = Field(default_factory=lambda: [NoiseSpec()], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    method: Method = "automatic"
    shots: int = Field(1024, ge=1, le=10_000_000, description="trajectories per evaluation for noisy statevector runs")
    device: Device = "auto"
    precision: Precision = Field("double", description="single halves statevector memory (complex64)")
    parallel: Parallel = Field(
        "tasks",
        description="what the job's ranks share: tasks | trajectories | "
        "statevector (one circuit over all ranks, needs an MPI Aer)",
    )
    mps: MPSSpec = Field(default_factory=MPSSpec, description="method matrix_product_state only")
    distributions: DistributionsSpec = Field(
        default_factory=DistributionsSpec,
        description="full 2^n distributions up to max_qubits; above, sampled counts (shots)",
    )

    @property
    def distribute(self) -> bool:
        """One statevector over all ranks (read by the executor's sizing)."""
        return self.parallel == "statevector"

    @field_validator("study")
    @classmethod
    def _study(cls, v: str) -> str:
        return safe_name(v, "rename the study")

    @field_validator("problems", mode="before")
    @classmethod
    def _scans(cls, v: Any) -> Any:
        """An entry with ``scan`` becomes one problem per value (hpcq.sim.scan; studies expand
        them when loaded, so the executor sees ordinary problems)."""
        from hpcq.sim.scan import expand

        return expand(v)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        bad = [s for s in v if not 0 <= s < 2**31]
        if bad:
            raise ValueError(f"{bad} out of range; use seeds 0 <= seed < 2**31")
        if len(set(v)) != len(v):
            raise ValueError("duplicate seeds; list each seed once")
        return v

    @model_validator(mode="after")
    def _check(self):
        if self.mps != MPSSpec() and self.method != "matrix_product_state":
            raise ValueError(
                "mps: bond_dimension/truncation_threshold apply to method 'matrix_product_state'; "
                "set method: matrix_product_state or remove mps"
            )
        if self.parallel == "statevector" and self.method not in ("statevector", "automatic"):
            raise ValueError(
                f"parallel: 'statevector' distributes a statevector; method {self.method!r} "
                "cannot be distributed: use method statevector or parallel 'tasks'"
            )
        if self.parallel == "statevector" and self.device == "GPU":
            raise ValueError("parallel: 'statevector' runs on the MPI-built CPU Aer; use device auto/CPU")
        for a, ans in enumerate(self.ansatze):
            self._check_ansatz(a, ans)
        self._check_backends()
        self._check_tasks()
        return self

    def _check_ansatz(self, a: int, ans: AnsatzSpec) -> None:
        """Ansatze made for one kind of problem (hva: the TFIM; lucj: Jordan-Wigner chemistry)."""
        if ans.kind == "hva":
            bad = [j for j, prob in enumerate(self.problems) if prob.kind != "tfim"]
            if bad:
                raise ValueError(
                    f"ansatze[{a}].kind: hva is the TFIM's Hamiltonian variational ansatz, but "
                    f"problems[{bad[0]}] is {self.problems[bad[0]].kind!r}; use kind tfim, or another ansatz"
                )
        if ans.kind != "lucj":
            return
        for j, prob in enumerate(self.problems):
            if prob.kind not in ("molecule", "fcidump", "pauli"):
                raise ValueError(
                    f"ansatze[{a}].kind: lucj needs a chemistry problem, problems[{j}] is {prob.kind!r}; "
                    "use kind molecule (e.g. geometry: h2, mapping: jordan_wigner), fcidump or pauli"
                )
            if prob.mapping != "jordan_wigner":
                raise ValueError(
                    f"ansatze[{a}].kind: lucj is Jordan-Wigner only (ffsim's circuits), but "
                    f"problems[{j}].mapping is {prob.mapping!r}; set mapping: jordan_wigner on that problem, "
                    "or use ansatz uccsd (any mapping) for parity / bravyi_kitaev"
                )
            if prob.kind == "pauli" and ans.initial_parameters == "ccsd":
                raise ValueError(
                    f"ansatze[{a}].initial_parameters: ccsd needs integrals and problems[{j}] is a Pauli "
                    "list; set initial_parameters: zeros"
                )

    def _check_backends(self) -> None:
        """A fake backend must have at least as many qubits as every problem it runs."""
        for i, nz in enumerate(self.noise):
            if nz.kind != "fake_backend":
                continue
            width = FAKE_BACKENDS[nz.backend]
            for j, prob in enumerate(self.problems):
                if prob.qubits > width:
                    wide = sorted(b for b, w in FAKE_BACKENDS.items() if w >= prob.qubits)
                    fix = (
                        f"use backend {' or '.join(wide)}"
                        if wide
                        else "no fake backend is that wide: use kind depolarizing"
                    )
                    raise ValueError(
                        f"noise[{i}].backend: {nz.backend} has {width} qubits but problems[{j}] ({prob.kind}) "
                        f"needs {prob.qubits}; {fix}, or a smaller problem"
                    )

    def _check_tasks(self) -> None:
        """Every task's method suits ``parallel``, and its memory fits some node (hpcq.sim.memory)."""
        from hpcq.sim import memory

        for i, t in enumerate(self.tasks()):
            if self.parallel == "statevector" and t.resolved_method != "statevector":
                raise ValueError(
                    f"task {i} ({t.task_id}): parallel 'statevector' needs method statevector, "
                    f"but this task resolves to {t.resolved_method}; set method: statevector"
                )
            fp = t.footprint()
            if fp.rank_bytes > memory.MAX_NODE_BYTES and not (
                self.parallel == "statevector" and t.resolved_method == "statevector"
            ):
                hint = memory.advice(
                    t.simulated_qubits,
                    t.resolved_method,
                    self.precision,
                    memory.MAX_NODE_BYTES,
                    bond_dimension=t.mps.bond_dimension,
                )
                raise ValueError(
                    f"task {i} ({t.task_id}): {fp.describe()}, more than any node has "
                    f"({memory.fmt_bytes(memory.MAX_NODE_BYTES)}); would fit: {hint}"
                )

    def tasks(self) -> list[TaskSpec]:
        """The product problems x ansatze x optimizers x noise x seeds, each task with the sweep's
        run fields; its id hashes its content (the scale fields only when not at their default)."""
        inherited = {k: getattr(self, k) for k in (*TASK_ID_FIELDS, *TASK_SCALE_DEFAULTS)}
        in_id = {k: _dumped(getattr(self, k)) for k in TASK_ID_FIELDS}
        in_id.update({k: v for k, d in TASK_SCALE_DEFAULTS.items() if (v := _dumped(getattr(self, k))) != _dumped(d)})
        out = []
        for problem, ansatz, opt, noise, seed in itertools.product(
            self.problems, self.ansatze, self.optimizers, self.noise, self.seeds
        ):
            parts = {"problem": problem, "ansatz": ansatz, "optimizer": opt, "seed": seed}
            common = {**{k: _dumped(v) for k, v in parts.items()}, **in_id}
            parent = "" if noise.kind == "none" else _task_id(dict(common, noise=_dumped(NoiseSpec())))
            step = "vqe" if noise.kind == "none" else "noise"
            task_id = _task_id(dict(common, noise=_dumped(noise)))
            out.append(TaskSpec(task_id=task_id, step=step, parent_task_id=parent, noise=noise, **parts, **inherited))
        return out

    def footprints(self, ranks: int = 1, gpus_per_rank: int = 0) -> list:
        """Every task's memory (hpcq.sim.memory.Footprint); ``ranks``: ranks sharing ONE state
        (the job's rank count for parallel 'statevector', else 1)."""
        return [t.footprint(ranks, gpus_per_rank) for t in self.tasks()]

    def memory_per_rank_bytes(self, ranks: int = 1, gpus_per_rank: int = 0) -> int:
        """Peak memory one rank needs: that of the largest task (ranks run one task at a time)."""
        return max(f.rank_bytes for f in self.footprints(ranks, gpus_per_rank))

    def max_qubits(self) -> int:
        return max(t.simulated_qubits for t in self.tasks())


def error_location(parts) -> str:
    """pydantic's loc tuple as a field path: ('noise', 2, 'p') -> 'noise[2].p'."""
    loc = ""
    for part in parts:
        loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
    return loc


def _known_fields() -> list[str]:
    models = (SweepParams, ProblemSpec, AnsatzSpec, InitialPointSpec, OptimizerSpec, NoiseSpec, MPSSpec)
    return sorted({f for m in (*models, DistributionsSpec) for f in m.model_fields})


def error_message(err: Any) -> str:
    """One pydantic error as the documented message: the fix, never pydantic's own wording for an
    unknown field ("Extra inputs are not permitted") or a missing one; type errors say what was given."""
    import difflib

    if err["type"] == "extra_forbidden":
        name = str(err["loc"][-1]) if err["loc"] else ""
        close = difflib.get_close_matches(name, _known_fields(), n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"unknown field{hint}; remove it or check its spelling (docs/studies.md lists the fields)"
    if err["type"] == "missing":
        return "required field is missing; add it (docs/studies.md lists the fields)"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if msg.startswith("Input should be") and "input" in err:
        msg = f"{msg} (got {err['input']!r}); fix the value"
    return msg


def format_errors(exc: ValidationError) -> str:
    """'noise[2].p: 1.5 is not a probability; use 0 <= p <= 1' style messages."""
    return "; ".join(error_text(err) for err in exc.errors())


def error_text(err: Any) -> str:
    """One pydantic error as 'field: message' (error_message's wording; a message that names its
    own deeper field, such as a scan's 'problems[0].scan.bond_length: ...', is kept as it is)."""
    loc, msg = error_location(err["loc"]) or "(sweep)", error_message(err)
    return msg if msg.startswith(loc + "[") else f"{loc}: {msg}"


def parse_sweep(data: dict[str, Any]) -> SweepParams:
    """Validate a sweep dict; raises ValueError naming the field and the fix."""
    try:
        return SweepParams.model_validate(data)
    except ValidationError as exc:
        raise ValueError(format_errors(exc)) from None


def parse_task(data: dict[str, Any]) -> TaskSpec:
    try:
        return TaskSpec.model_validate(data)
    except ValidationError as exc:
        raise ValueError(format_errors(exc)) from None
