"""Our own JW / parity (two-qubit reduced) / BK against qiskit-nature 0.8 (an independent
implementation, test extra only), and sector-exact energies against PySCF CASCI."""

import numpy as np
import pytest

from hpcq.sim.chem.mappings import qubit_hamiltonian
from hpcq.sim.chem.molecule import casci_energy, molecule_integrals
from hpcq.sim.chem.sector import sector_ground_energy, sector_states

CASES = {
    "h2": dict(geometry="h2"),
    "lih": dict(geometry="lih", freeze_core=True),
    "lih-full": dict(geometry="lih"),
    "h2o-cas44": dict(geometry="h2o", active_electrons=4, active_orbitals=4),
}


def _nature(ints, mapping):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from qiskit_nature.second_q.hamiltonians import ElectronicEnergy
        from qiskit_nature.second_q.mappers import BravyiKitaevMapper, JordanWignerMapper, ParityMapper
    from qiskit.quantum_info import SparsePauliOp

    ee = ElectronicEnergy.from_raw_integrals(ints.h1, ints.h2)  # auto-detects chemists' index order
    mapper = {
        "jordan_wigner": JordanWignerMapper(),
        "bravyi_kitaev": BravyiKitaevMapper(),
        "parity": ParityMapper(num_particles=ints.nelec),
    }[mapping]
    op = mapper.map(ee.second_q_op())
    return op + SparsePauliOp("I" * op.num_qubits, [ints.ecore])


@pytest.mark.parametrize("mapping", ["jordan_wigner", "parity", "bravyi_kitaev"])
@pytest.mark.parametrize("case", list(CASES))
def test_mapping_equals_qiskit_nature(case, mapping):
    ints = molecule_integrals(**CASES[case])
    ours = qubit_hamiltonian(ints.h1, ints.h2, ints.ecore, mapping, ints.nelec)
    theirs = _nature(ints, mapping)
    assert ours.num_qubits == theirs.num_qubits
    diff = (ours - theirs).simplify(atol=0)
    assert np.max(np.abs(diff.coeffs)) < 1e-10, f"max coefficient difference {np.max(np.abs(diff.coeffs)):.2e}"
    e = sector_ground_energy(ours, sector_states(mapping, ints.norb, ints.nelec))
    assert e == pytest.approx(casci_energy(ints), abs=1e-8)


def test_sector_differs_from_whole_space_for_an_ion_favouring_hamiltonian():
    """The sector answer is not the global minimum in general: shift the one-body part so that
    adding electrons lowers the energy; the whole-space minimum then has more electrons."""
    ints = molecule_integrals("h2")
    h1 = ints.h1 - 3.0 * np.eye(2)
    op = qubit_hamiltonian(h1, ints.h2, ints.ecore, "jordan_wigner")
    sector = sector_ground_energy(op, sector_states("jordan_wigner", 2, (1, 1)))
    whole = float(np.linalg.eigvalsh(op.to_matrix())[0])
    assert whole < sector - 0.1
