//! Columns built in Rust and handed to Python as the buffers of Arrow arrays: lent, not
//! copied, and never a Python object per value.

use std::os::raw::c_int;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

/// A column of strings as Arrow lays one out: a validity bitmap, int32 offsets and the bytes.
#[derive(Default)]
pub struct Strings {
    offsets: Vec<i32>,
    data: Vec<u8>,
    valid: Bits,
}

impl Strings {
    pub fn new() -> Self {
        Strings { offsets: vec![0], ..Default::default() }
    }

    pub fn push(&mut self, value: Option<&[u8]>) {
        if let Some(bytes) = value {
            self.data.extend_from_slice(bytes);
        }
        self.valid.push(value.is_some());
        self.offsets.push(self.data.len() as i32);
    }

    /// A value written by `fill` straight into the column's bytes (never null).
    pub fn push_with(&mut self, fill: impl FnOnce(&mut Vec<u8>)) {
        fill(&mut self.data);
        self.valid.push(true);
        self.offsets.push(self.data.len() as i32);
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether the bytes still fit Arrow's 32-bit offsets after `more` bytes are added.
    pub fn fits(&self, more: usize) -> bool {
        self.data.len() + more <= i32::MAX as usize
    }

    /// `(length, null count, validity or None, offsets, data)`: `pa.Array.from_buffers`' inputs.
    pub fn into_py(self, py: Python<'_>) -> PyResult<Py<PyTuple>> {
        let length = self.len();
        let nulls = self.valid.zeros;
        let validity: Py<PyAny> = if nulls == 0 {
            py.None()
        } else {
            lend(py, self.valid.bytes)?.into_any().unbind()
        };
        let tuple = PyTuple::new(
            py,
            [
                length.into_pyobject(py)?.into_any().unbind(),
                nulls.into_pyobject(py)?.into_any().unbind(),
                validity,
                lend(py, self.offsets)?.into_any().unbind(),
                lend(py, self.data)?.into_any().unbind(),
            ],
        )?;
        Ok(tuple.unbind())
    }
}

/// A validity bitmap, least significant bit first, as Arrow's.
#[derive(Default)]
pub struct Bits {
    bytes: Vec<u8>,
    len: usize,
    zeros: usize,
}

impl Bits {
    pub fn push(&mut self, bit: bool) {
        if self.len.is_multiple_of(8) {
            self.bytes.push(0);
        }
        if bit {
            *self.bytes.last_mut().unwrap() |= 1 << (self.len % 8);
        } else {
            self.zeros += 1;
        }
        self.len += 1;
    }
}

/// Plain numbers made in Rust, lent to Python by the buffer protocol (read back with
/// `numpy.frombuffer` or `pyarrow.py_buffer`), so that gigabytes of columns are not copied
/// again into `bytes` on their way out.
#[pyclass(frozen)]
pub struct Lent {
    values: Held,
}

/// The vector a `Lent` holds, kept with its own type: its memory is freed as it was allocated.
pub enum Held {
    U8(Vec<u8>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

impl Held {
    fn bytes(&self) -> &[u8] {
        match self {
            Held::U8(v) => v,
            Held::I32(v) => plain_bytes(v),
            Held::I64(v) => plain_bytes(v),
        }
    }
}

/// A vector of plain numbers (u8, i32, i64) as a `Lent`.
pub fn lend<T>(py: Python<'_>, values: Vec<T>) -> PyResult<Bound<'_, Lent>>
where
    Held: From<Vec<T>>,
{
    Bound::new(py, Lent { values: Held::from(values) })
}

impl From<Vec<u8>> for Held {
    fn from(v: Vec<u8>) -> Self {
        Held::U8(v)
    }
}

impl From<Vec<i32>> for Held {
    fn from(v: Vec<i32>) -> Self {
        Held::I32(v)
    }
}

impl From<Vec<i64>> for Held {
    fn from(v: Vec<i64>) -> Self {
        Held::I64(v)
    }
}

#[pymethods]
impl Lent {
    /// A read-only view of the bytes; the view holds a reference to this object.
    unsafe fn __getbuffer__(slf: Bound<'_, Self>, view: *mut ffi::Py_buffer, flags: c_int) -> PyResult<()> {
        let bytes = slf.get().values.bytes();
        let length = bytes.len() as ffi::Py_ssize_t;
        // SAFETY: the bytes never change or move while this object lives, and the view keeps it alive.
        let filled = unsafe { ffi::PyBuffer_FillInfo(view, slf.as_ptr(), bytes.as_ptr() as *mut _, length, 1, flags) };
        if filled == -1 {
            return Err(PyErr::fetch(slf.py()));
        }
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}
}

/// A slice of plain numbers as Python bytes (read back with `numpy.frombuffer`).
pub fn bytes_of<'py, T: Copy>(py: Python<'py>, values: &[T]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, plain_bytes(values))
}

/// The bytes of plain numbers.
fn plain_bytes<T: Copy>(values: &[T]) -> &[u8] {
    // SAFETY: T is a plain number type (i32, i64, u8): its bytes are its value.
    unsafe { std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values)) }
}
