"""Parameterised ansatz circuits: Qiskit 2.x circuit-library families, HF + UCCSD from our own
mappings, HF + LUCJ from ffsim (hpcq.sim.chem.lucj, extra hpcq[lucj]), the Hamiltonian
variational ansatz of the TFIM (hva: 2 parameters per layer, shared by every site), or a circuit
brought as data (OpenQASM 3 / QPY).

Chemistry problems put the Hartree-Fock determinant first (X gates on the bits that the mapping
gives the HF occupation), so every chemistry ansatz starts at or near E_HF.
"""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import efficient_su2, n_local, real_amplitudes

from hpcq.sim.spec import AnsatzSpec, ProblemSpec

CHEMISTRY = ("molecule", "fcidump", "pauli", "h2")


def hf_bits(problem: ProblemSpec) -> list[int]:
    """Qubits set in the Hartree-Fock state of a chemistry problem under its mapping."""
    from hpcq.sim.chem.mappings import hf_occupation, occupation_to_bits

    norb, nelec = problem.spatial_orbitals, problem.electrons
    bits = occupation_to_bits(problem.mapping, norb, hf_occupation(norb, nelec))[0]
    return [int(k) for k in np.flatnonzero(bits)]


def hf_circuit(problem: ProblemSpec) -> QuantumCircuit:
    qc = QuantumCircuit(problem.qubits, name="HF")
    for q in hf_bits(problem):
        qc.x(q)
    return qc


def excitations(norb: int, nelec: tuple[int, int]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Spin-conserving singles and doubles (creators, annihilators), blocked order, qiskit-nature's
    order: alpha singles, beta singles, then alpha-alpha, alpha-beta, beta-beta doubles."""
    na, nb = nelec
    occ_a, vir_a = list(range(na)), list(range(na, norb))
    occ_b, vir_b = [norb + i for i in range(nb)], [norb + i for i in range(nb, norb)]
    ex: list = [((a,), (i,)) for i in occ_a for a in vir_a]
    ex += [((a,), (i,)) for i in occ_b for a in vir_b]
    pairs = lambda xs: [(x, y) for k, x in enumerate(xs) for y in xs[k + 1 :]]  # noqa: E731
    ex += [((a, b), (i, j)) for i, j in pairs(occ_a) for a, b in pairs(vir_a)]
    ex += [((a, b), (i, j)) for i in occ_a for j in occ_b for a in vir_a for b in vir_b]
    ex += [((a, b), (i, j)) for i, j in pairs(occ_b) for a, b in pairs(vir_b)]
    return ex


def uccsd_circuit(problem: ProblemSpec, reps: int = 1) -> QuantumCircuit:
    """HF + prod_k exp(theta_k (T_k - T_k^+)), each generator mapped with the problem's mapping."""
    from qiskit.circuit import ParameterVector
    from qiskit.circuit.library import PauliEvolutionGate

    from hpcq.sim.chem.mappings import excitation, two_qubit_reduce

    norb, nelec = problem.spatial_orbitals, problem.electrons
    base = "parity" if problem.mapping == "parity" else problem.mapping
    gens = []
    for cre, ann in excitations(norb, nelec):
        T = excitation(base, 2 * norb, cre, ann)
        G = (1j * (T - T.adjoint())).simplify(atol=1e-14)
        if problem.mapping == "parity":
            G = two_qubit_reduce(G, norb, nelec)
        gens.append(G)
    theta = ParameterVector("t", len(gens) * reps)
    qc = hf_circuit(problem)
    for r in range(reps):
        for k, G in enumerate(gens):
            # exp(-i theta G) with G = i(T - T^+) is exp(theta (T - T^+)); G's terms commute: exact
            qc.append(PauliEvolutionGate(G, time=theta[r * len(gens) + k]), range(problem.qubits))
    return qc


def hva_circuit(problem: ProblemSpec, reps: int) -> QuantumCircuit:
    """Hamiltonian variational ansatz of the TFIM: |+>^n (ground state of the field term), then
    ``reps`` layers prod_bonds RZZ(gamma_l) . prod_i RX(beta_l), bonds in brickwork order (even,
    odd, then the periodic bond). 2 parameters per layer whatever n is: translation invariant, so
    angles found on a short chain carry over to a long one (gapped chains: tests/scale/test_mps.py),
    and the circuit's bond dimension is at most 2^reps (cheap for matrix_product_state)."""
    from qiskit.circuit import ParameterVector

    n = problem.qubits
    gamma, beta = ParameterVector("g", reps), ParameterVector("b", reps)
    bonds = [(i, i + 1) for i in range(0, n - 1, 2)] + [(i, i + 1) for i in range(1, n - 1, 2)]
    if problem.boundary == "periodic" and n > 2:
        bonds.append((n - 1, 0))
    qc = QuantumCircuit(n, name="HVA")
    qc.h(range(n))
    for layer in range(reps):
        for i, j in bonds:
            qc.rzz(gamma[layer], i, j)
        for q in range(n):
            qc.rx(beta[layer], q)
    return qc


def _file_circuit(spec: AnsatzSpec, n_qubits: int) -> QuantumCircuit:
    from hpcq.sim.chem.files import ProblemFileError, load_circuit, source_bytes

    name, raw = source_bytes(spec.file, spec.data, "base64" if spec.kind == "qpy" else "text", f"{spec.kind} ansatz")
    qc = load_circuit(name, raw, spec.kind)
    if qc.num_qubits != n_qubits:
        raise ProblemFileError(
            f"{name}: the circuit has {qc.num_qubits} qubits but the problem {n_qubits}; "
            "match the Hamiltonian's qubit count"
        )
    if qc.num_clbits or any(i.operation.name == "measure" for i in qc.data):
        qc = qc.remove_final_measurements(inplace=False)
    if qc.num_clbits:
        raise ProblemFileError(f"{name}: mid-circuit measurements found; an ansatz is unitary, remove them")
    if qc.num_parameters == 0:
        raise ProblemFileError(f"{name}: the circuit has no free parameters; declare e.g. 'input float[64] theta;'")
    return qc


def build_ansatz(spec: AnsatzSpec, n_qubits: int, problem: ProblemSpec | None = None) -> QuantumCircuit:
    if spec.kind == "uccsd":
        if problem is None or problem.kind not in CHEMISTRY:
            raise ValueError(
                "ansatz uccsd needs a chemistry problem (molecule, fcidump, pauli with "
                "num_particles, h2); use a hardware-efficient ansatz for spin chains"
            )
        return uccsd_circuit(problem, spec.reps if spec.reps else 1)
    if spec.kind == "lucj":
        from hpcq.sim.chem.lucj import lucj_circuit

        chem = problem is not None and problem.kind in ("molecule", "fcidump", "pauli")
        if not chem or problem.mapping != "jordan_wigner":
            raise ValueError(
                "ansatz lucj needs a chemistry problem (molecule, fcidump, pauli) with mapping: jordan_wigner; "
                "set mapping: jordan_wigner, or use uccsd for parity / bravyi_kitaev"
            )
        return lucj_circuit(problem, spec)
    if spec.kind == "hva":
        if problem is None or problem.kind != "tfim":
            raise ValueError(
                "ansatz hva is the TFIM's Hamiltonian variational ansatz and needs a tfim problem; "
                "use efficient_su2 or real_amplitudes for other problems"
            )
        return hva_circuit(problem, spec.reps)
    if spec.kind in ("qasm3", "qpy"):
        return _file_circuit(spec, n_qubits)
    if spec.kind == "efficient_su2":
        body = efficient_su2(n_qubits, reps=spec.reps, entanglement=spec.entanglement)
    elif spec.kind == "real_amplitudes":
        body = real_amplitudes(n_qubits, reps=spec.reps, entanglement=spec.entanglement)
    else:
        body = n_local(
            n_qubits, spec.rotation_blocks, spec.entanglement_blocks, entanglement=spec.entanglement, reps=spec.reps
        )
    hf = spec.initial_state == "hf" or (
        spec.initial_state == "auto" and problem is not None and problem.kind in ("molecule", "fcidump", "pauli")
    )
    if not hf:
        return body
    if problem is None or problem.kind not in CHEMISTRY:
        raise ValueError("ansatz.initial_state: hf needs a chemistry problem; use zero for spin chains")
    qc = QuantumCircuit(problem.qubits, name="HF")
    for q in np.flatnonzero(_hf_preimage(body, hf_bits(problem))):  # zero angles give |HF> exactly
        qc.x(int(q))
    return qc.compose(body)


def _hf_preimage(body: QuantumCircuit, bits: list[int]) -> np.ndarray:
    """The basis state that the body at zero angles carries to the HF determinant. At zero angles
    every rotation is the identity and the entanglers permute basis states (cx: b_t ^= b_c; cz:
    a sign), so the preimage is the HF bits run backwards through the cx gates."""
    b = np.zeros(body.num_qubits, dtype=np.uint8)
    b[bits] = 1
    for inst in reversed(body.data):
        name, qs = inst.operation.name, [body.find_bit(q).index for q in inst.qubits]
        if name == "cx":
            b[qs[1]] ^= b[qs[0]]
        elif name == "swap":
            b[qs[0]], b[qs[1]] = b[qs[1]], b[qs[0]]
        elif name not in ("cz", "rx", "ry", "rz", "barrier"):
            raise ValueError(f"the HF start cannot see through gate {name!r}; use initial_state: zero")
    return b


def has_hf_point(spec: AnsatzSpec, problem: ProblemSpec | None) -> bool:
    """Zero angles give the Hartree-Fock state: uccsd, lucj with initial_parameters zeros, and the
    hardware-efficient families built on the HF state (build_ansatz)."""
    chem = problem is not None and problem.kind in CHEMISTRY
    if spec.kind == "uccsd":
        return chem
    if spec.kind == "lucj":
        return chem and spec.initial_parameters == "zeros"
    if spec.kind in ("efficient_su2", "real_amplitudes", "two_local"):
        auto = problem is not None and problem.kind in ("molecule", "fcidump", "pauli")
        return chem and (spec.initial_state == "hf" or (spec.initial_state == "auto" and auto))
    return False


def start_point(
    spec: AnsatzSpec, problem: ProblemSpec | None, n_params: int, seed: int, restart: int = 0
) -> tuple[np.ndarray, dict]:
    """The optimiser's start for restart ``restart`` (0 = the ansatz's initial_point; later restarts
    are uniform in [-pi, pi) from the seed sequence (seed, restart)), and its record for the file.
    Default initial_point: the HF point (zero angles) where the ansatz has one (has_hf_point), else
    initial_point() below with the task's seed."""
    ip = spec.initial_point
    if restart > 0:
        rng = np.random.default_rng([seed, restart])
        return rng.uniform(-np.pi, np.pi, size=n_params), {"kind": "random", "seed": [seed, restart]}
    if ip is None:
        if has_hf_point(spec, problem):
            return np.zeros(n_params), {"kind": "hf", "default": True}
        return initial_point(spec, n_params, np.random.default_rng(seed)), {"kind": "default", "seed": seed}
    if ip.kind == "hf":
        if not has_hf_point(spec, problem):
            raise ValueError(
                f"ansatz.initial_point: hf needs an ansatz built on the Hartree-Fock state (uccsd, lucj with "
                f"initial_parameters zeros, or {spec.kind} with initial_state hf on a chemistry problem); "
                "use random, zeros or explicit values"
            )
        return np.zeros(n_params), {"kind": "hf"}
    if ip.kind == "zeros":
        return np.zeros(n_params), {"kind": "zeros"}
    if ip.kind == "random":
        s = seed if ip.seed is None else ip.seed
        return np.random.default_rng(s).uniform(-np.pi, np.pi, size=n_params), {"kind": "random", "seed": s}
    x0 = np.asarray(ip.values, dtype=float) if ip.kind == "values" else _read_point(ip.file, ip.data)
    if x0.shape != (n_params,):
        raise ValueError(
            f"ansatz.initial_point: {x0.size} values but the ansatz has {n_params} parameters; "
            f"give {n_params} angles (in the circuit's parameter order)"
        )
    return x0, {"kind": ip.kind, **({"file": ip.file} if ip.kind == "file" else {})}


def _read_point(name: str | None, data: str | None) -> np.ndarray:
    """Angles of an initial_point file: .npy (base64 when embedded) or .txt (numbers separated by
    spaces, commas or newlines); a path when not embedded."""
    import base64
    import io
    from pathlib import Path

    npy = str(name).lower().endswith(".npy")
    if data is None:
        raw = Path(str(name)).expanduser().read_bytes()
    else:
        raw = base64.b64decode(data) if npy else data.encode()
    try:
        if npy:
            return np.asarray(np.load(io.BytesIO(raw), allow_pickle=False), dtype=float).ravel()
        return np.array([float(t) for t in raw.decode().replace(",", " ").split()], dtype=float)
    except (ValueError, OSError) as exc:
        raise ValueError(f"ansatz.initial_point.file: {name} is not a list of angles ({exc}); fix the file") from None


def initial_point(spec: AnsatzSpec, n_params: int, rng: np.random.Generator) -> np.ndarray:
    """UCCSD starts at HF (theta = 0: the standard choice, and a random start is far from it), LUCJ
    at x = 0 (its circuit's angles are displacements from CCSD amplitudes or HF); hva at seeded
    uniform angles in [0, pi/2) (x = 0 is a stationary point: |+>^n is an eigenstate of the first
    layer's generator's commutator); everything else at seeded uniform angles in [-pi, pi)."""
    if spec.kind in ("uccsd", "lucj"):
        return np.zeros(n_params)
    if spec.kind == "hva":
        return rng.uniform(0.0, np.pi / 2, size=n_params)
    return rng.uniform(-np.pi, np.pi, size=n_params)


def transpiled_size(circ: QuantumCircuit, seed: int = 0) -> dict[str, int]:
    """Parameters, depth and two-qubit gates after transpiling to the simulator's basis (as the runner does)."""
    from qiskit import transpile

    from hpcq.sim.noise import BASIS_GATES

    tqc = transpile(circ, basis_gates=BASIS_GATES, optimization_level=1, seed_transpiler=seed)
    ops = tqc.count_ops()
    return {
        "n_params": circ.num_parameters,
        "depth": tqc.depth(),
        "two_qubit_gates": int(sum(v for k, v in ops.items() if k in ("cx", "cz", "ecr", "swap"))),
    }
