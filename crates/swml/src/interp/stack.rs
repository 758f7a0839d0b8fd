//! The call stack of a running script.
//!
//! A *frame* is one run of a section (`main`, or one `execute`d). It holds a stack of
//! *blocks*: the section's methods, then the nested method arrays being run (a `cond` branch,
//! a `switch` case, an `on_return`). `goto` jumps within the frame, `return` leaves it, and
//! `transfer` replaces it. Each block knows its *site*, the path of its array in the script
//! (`sections.main`, `sections.main[3].cond[0].then`), which names a method in errors and keys the per-`goto`
//! jump counters.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::document::{Document, Method};

/// A loaded document.
#[derive(Debug)]
pub(super) struct Program {
    /// Tells the documents of one call apart (for the `goto` counters).
    id: u32,
    sections: BTreeMap<String, Arc<[Method]>>,
}

impl Program {
    /// The methods of section `name`.
    pub(super) fn section(&self, name: &str) -> Option<Arc<[Method]>> {
        self.sections.get(name).cloned()
    }
}

/// A method array being run.
#[derive(Debug, Clone)]
pub(super) struct Block {
    methods: Arc<[Method]>,
    site: Arc<str>,
    next: usize,
}

impl Block {
    /// `methods`, from the first, at `site`.
    pub(super) fn new(methods: Arc<[Method]>, site: String) -> Self {
        Self {
            methods,
            site: site.into(),
            next: 0,
        }
    }
}

/// One run of a section.
#[derive(Debug)]
pub(super) struct Frame {
    program: Arc<Program>,
    blocks: Vec<Block>,
    /// The caller's `params`, restored when this frame returns.
    pub(super) saved_params: Value,
    /// What the caller runs after this frame returns (`result`, then `on_return` on top).
    pub(super) continuation: Vec<Block>,
}

/// The method about to run, and where it is.
#[derive(Debug)]
pub(super) struct Cursor {
    program: u32,
    methods: Arc<[Method]>,
    index: usize,
    site: Arc<str>,
}

impl Cursor {
    /// The method.
    pub(super) fn method(&self) -> &Method {
        &self.methods[self.index]
    }

    /// Its path in the script, e.g. `sections.main[3].cond[0].then[1]`.
    pub(super) fn location(&self) -> String {
        format!("{}[{}]", self.site, self.index)
    }
}

/// The frames of a call, innermost last, and the `goto` counters.
#[derive(Debug, Default)]
pub(super) struct Stack {
    frames: Vec<Frame>,
    /// Jumps taken per `goto` (document, site, index), for the whole call.
    jumps: HashMap<(u32, Arc<str>, usize), u32>,
    loaded: u32,
}

impl Stack {
    /// Makes `document` a program of this call.
    pub(super) fn load(&mut self, document: Document) -> Arc<Program> {
        let id = self.loaded;
        self.loaded = self.loaded.wrapping_add(1);
        let sections = document
            .sections
            .into_iter()
            .map(|(name, methods)| (name, methods.into()))
            .collect();
        Arc::new(Program { id, sections })
    }

    /// How many frames are running.
    pub(super) fn depth(&self) -> usize {
        self.frames.len()
    }

    /// The program of the innermost frame.
    pub(super) fn program(&self) -> Option<&Arc<Program>> {
        self.frames.last().map(|f| &f.program)
    }

    /// Starts section `name` of `program` in a new frame; `false` if there is no such
    /// section.
    pub(super) fn push_frame(
        &mut self,
        program: Arc<Program>,
        name: &str,
        saved_params: Value,
        continuation: Vec<Block>,
    ) -> bool {
        let Some(methods) = program.section(name) else {
            return false;
        };
        self.frames.push(Frame {
            program,
            blocks: vec![Block::new(methods, format!("sections.{name}"))],
            saved_params,
            continuation,
        });
        true
    }

    /// Runs section `name` of `program` in place of the innermost frame's methods; its
    /// saved `params` and continuation stay. `false` if there is no such section or frame.
    pub(super) fn replace_frame(&mut self, program: Arc<Program>, name: &str) -> bool {
        let (Some(methods), Some(frame)) = (program.section(name), self.frames.last_mut()) else {
            return false;
        };
        frame.program = program;
        frame.blocks = vec![Block::new(methods, format!("sections.{name}"))];
        true
    }

    /// Ends the innermost frame.
    pub(super) fn pop_frame(&mut self) -> Option<Frame> {
        self.frames.pop()
    }

    /// Runs `block` next, in the innermost frame.
    pub(super) fn push_block(&mut self, block: Block) {
        if let Some(frame) = self.frames.last_mut() {
            frame.blocks.push(block);
        }
    }

    /// The next method of the innermost frame, leaving the blocks that have ended; `None`
    /// when the frame has run out of methods (or there is none).
    pub(super) fn next_method(&mut self) -> Option<Cursor> {
        let frame = self.frames.last_mut()?;
        loop {
            let block = frame.blocks.last_mut()?;
            if block.next < block.methods.len() {
                let cursor = Cursor {
                    program: frame.program.id,
                    methods: Arc::clone(&block.methods),
                    index: block.next,
                    site: Arc::clone(&block.site),
                };
                block.next += 1;
                return Some(cursor);
            }
            frame.blocks.pop();
        }
    }

    /// Counts a jump of the `goto` at `cursor`: `false` once it has jumped `max` times.
    pub(super) fn count_jump(&mut self, cursor: &Cursor, max: u32) -> bool {
        let key = (cursor.program, Arc::clone(&cursor.site), cursor.index);
        let taken = self.jumps.entry(key).or_insert(0);
        if *taken >= max {
            return false;
        }
        *taken += 1;
        true
    }

    /// Goes to `- label: <label>` in the innermost frame: in the current block or one that
    /// encloses it, the nearest first; the blocks inside it are left. `false` if not found.
    pub(super) fn jump(&mut self, label: &str) -> bool {
        let Some(frame) = self.frames.last_mut() else {
            return false;
        };
        for depth in (0..frame.blocks.len()).rev() {
            let block = &frame.blocks[depth];
            let found = block
                .methods
                .iter()
                .position(|m| m.name == "label" && m.params.as_str() == Some(label));
            if let Some(index) = found {
                frame.blocks.truncate(depth + 1);
                frame.blocks[depth].next = index;
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn method(name: &str, params: Value) -> Method {
        Method {
            name: name.into(),
            params,
        }
    }

    fn stack(main: Vec<Method>) -> Stack {
        let mut stack = Stack::default();
        let program = stack.load(Document {
            version: "1.0.0".into(),
            sections: [("main".to_owned(), main)].into(),
        });
        assert!(stack.push_frame(program, "main", Value::Null, vec![]));
        stack
    }

    fn names(stack: &mut Stack) -> Vec<String> {
        std::iter::from_fn(|| stack.next_method())
            .map(|c| format!("{}@{}", c.method().name, c.location()))
            .collect()
    }

    #[test]
    fn blocks_run_in_order_and_end_back_in_the_section() {
        let mut s = stack(vec![method("a", json!({})), method("b", json!({}))]);
        let first = s.next_method().unwrap();
        assert_eq!(first.location(), "sections.main[0]");
        s.push_block(Block::new(
            vec![method("x", json!({}))].into(),
            format!("{}.cond[0].then", first.location()),
        ));
        assert_eq!(
            names(&mut s),
            ["x@sections.main[0].cond[0].then[0]", "b@sections.main[1]"]
        );
        assert!(s.next_method().is_none());
        assert_eq!(s.depth(), 1);
    }

    #[test]
    fn jump_finds_the_nearest_label_and_leaves_inner_blocks() {
        let mut s = stack(vec![
            method("label", json!("top")),
            method("a", json!({})),
            method("b", json!({})),
        ]);
        s.next_method();
        s.next_method();
        s.push_block(Block::new(
            vec![method("label", json!("inner")), method("x", json!({}))].into(),
            "sections.main[1].cond[0].then".into(),
        ));
        assert!(s.jump("top"));
        assert_eq!(
            names(&mut s),
            [
                "label@sections.main[0]",
                "a@sections.main[1]",
                "b@sections.main[2]"
            ]
        );
        assert!(!s.jump("inner"));
        assert!(!s.jump("nowhere"));
    }

    #[test]
    fn each_goto_counts_its_own_jumps() {
        let mut s = stack(vec![method("goto", json!({})), method("goto", json!({}))]);
        let first = s.next_method().unwrap();
        let second = s.next_method().unwrap();
        assert!(s.count_jump(&first, 2));
        assert!(s.count_jump(&first, 2));
        assert!(!s.count_jump(&first, 2));
        assert!(s.count_jump(&second, 1));
        assert!(!s.count_jump(&second, 1));
    }

    #[test]
    fn frames_push_replace_and_pop() {
        let mut s = stack(vec![method("a", json!({}))]);
        let program = Arc::clone(s.program().unwrap());
        assert!(!s.push_frame(Arc::clone(&program), "missing", Value::Null, vec![]));
        assert!(s.push_frame(Arc::clone(&program), "main", json!({"p": 1}), vec![]));
        assert_eq!(s.depth(), 2);
        assert!(s.replace_frame(program, "main"));
        let frame = s.pop_frame().unwrap();
        assert_eq!(frame.saved_params, json!({"p": 1}));
        assert_eq!(s.depth(), 1);
    }
}
