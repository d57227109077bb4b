//! Columns built in Rust and handed to Python as the buffers of Arrow arrays: one copy per
//! column, never a Python object per value.

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
            PyBytes::new(py, &self.valid.bytes).into_any().unbind()
        };
        let tuple = PyTuple::new(
            py,
            [
                length.into_pyobject(py)?.into_any().unbind(),
                nulls.into_pyobject(py)?.into_any().unbind(),
                validity,
                bytes_of(py, &self.offsets).into_any().unbind(),
                PyBytes::new(py, &self.data).into_any().unbind(),
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

/// A slice of plain numbers as Python bytes (read back with `numpy.frombuffer`).
pub fn bytes_of<'py, T: Copy>(py: Python<'py>, values: &[T]) -> Bound<'py, PyBytes> {
    // SAFETY: T is a plain number type (i32, i64, u8): its bytes are its value.
    let raw = unsafe { std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values)) };
    PyBytes::new(py, raw)
}
