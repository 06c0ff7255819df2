//! A list that keeps its first few items inline: an exchange's attempts (nearly
//! always one) used to take a `Vec` allocation per forwarded miss.

/// Up to `N` items inline, the rest in a `Vec` that is only allocated past `N`.
pub(crate) struct Few<T, const N: usize> {
    head: [Option<T>; N],
    len: usize,
    rest: Vec<T>,
}

impl<T, const N: usize> Few<T, N> {
    pub(crate) fn new() -> Few<T, N> {
        Few {
            head: std::array::from_fn(|_| None),
            len: 0,
            rest: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, item: T) {
        match self.head.get_mut(self.len) {
            Some(slot) => *slot = Some(item),
            None => self.rest.push(item),
        }
        self.len += 1;
    }

    pub(crate) fn get(&self, index: usize) -> Option<&T> {
        match self.head.get(index) {
            Some(slot) => slot.as_ref(),
            None => self.rest.get(index - N),
        }
    }

    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        match self.head.get_mut(index) {
            Some(slot) => slot.as_mut(),
            None => self.rest.get_mut(index - N),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn items_keep_their_index_inline_and_past_it() {
        let mut few: Few<String, 2> = Few::new();
        assert_eq!((few.len(), few.get(0)), (0, None));
        for i in 0..5 {
            few.push(i.to_string());
            assert_eq!(few.len(), i + 1);
        }
        for i in 0..5 {
            assert_eq!(few.get(i).map(String::as_str), Some(&*i.to_string()));
        }
        assert_eq!(few.get(5), None);
        assert_eq!(few.get(usize::MAX), None);
        few.get_mut(1).unwrap().push('!');
        few.get_mut(3).unwrap().push('?');
        assert_eq!(few.get(1).unwrap(), "1!");
        assert_eq!(few.get(3).unwrap(), "3?");
        assert!(few.get_mut(7).is_none());
    }

    #[test]
    fn inline_items_allocate_nothing_and_every_item_is_dropped() {
        let counted = Rc::new(());
        let mut few: Few<Rc<()>, 3> = Few::new();
        few.push(Rc::clone(&counted));
        assert_eq!(few.rest.capacity(), 0, "one item must not allocate");
        for _ in 0..4 {
            few.push(Rc::clone(&counted));
        }
        assert_eq!(Rc::strong_count(&counted), 6);
        drop(few);
        assert_eq!(Rc::strong_count(&counted), 1);
    }
}
