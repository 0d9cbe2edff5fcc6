//! The liquid layer, stack and classifier.

mod layer;
mod stack;
