//! The native module of the `turtle-finder` wheel (`turtle_finder._native`). It only
//! translates: Python arguments in, turtle-finder calls made with the GIL released,
//! errors out as the exception classes of `turtle_finder._errors`.

mod candidacy;
mod change;
mod errors;
mod finder;
mod instances;
mod lock;
mod monitoring;
mod registration;
mod registry;
mod txn;
mod watch;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<finder::ServiceFinder>()?;
    m.add_class::<watch::Watch>()?;
    m.add_class::<change::Change>()?;
    m.add_class::<instances::Instance>()?;
    m.add_class::<instances::Instances>()?;
    m.add_class::<registration::Registration>()?;
    m.add_class::<lock::Lock>()?;
    m.add_class::<lock::LockSession>()?;
    m.add_class::<lock::Entry>()?;
    m.add_class::<lock::Leadership>()?;
    m.add_class::<lock::Leader>()?;
    m.add_class::<txn::Txn>()?;
    m.add_class::<txn::Compare>()?;
    m.add_class::<txn::Op>()?;
    m.add_class::<txn::TxnResult>()?;
    m.add_class::<candidacy::Candidacy>()?;
    m.add_class::<monitoring::Member>()?;
    m.add_class::<monitoring::MemberStatus>()?;
    m.add_function(wrap_pyfunction!(registry::_close_all, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
