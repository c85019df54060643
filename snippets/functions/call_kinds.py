"""The same work reached by five kinds of call: timed on two pages, which share the measurement."""

# --8<-- [start:setup]
class Square:
    def area(self, side):
        return side * side

    @staticmethod
    def static_area(side):
        return side * side

    @classmethod
    def class_area(cls, side):
        return side * side


def area(side):
    return side * side


s = Square()
bound = s.area
# --8<-- [end:setup]


if __name__ == "__main__":
    results = {area(3), s.area(3), s.static_area(3), s.class_area(3), bound(3)}
    assert results == {9}, results
    print("every kind of call returns", results.pop())
