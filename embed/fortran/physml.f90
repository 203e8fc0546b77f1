! physml.f90: the Fortran module of PhysML's embedding layer, a thin iso_c_binding layer over
! the C API (embed/include/physml/embed/physml_c.h). Handles are type(c_ptr); every function
! returns the C API's status (PHYSML_OK = 0); physml_last_error() returns the message.
!
! Arrays are passed without copies. physml_array_of(x) describes a contiguous Fortran array
! (declare it with the target attribute) in one of two ways:
!   * default (reverse = .true.): the shape reversed and row-major. A Fortran x(features, batch)
!     is the model's [batch, features] tensor, dense: the usual way, fastest for the model.
!   * reverse = .false.: the Fortran shape as is, column-major. A Fortran x(batch, features) is
!     the model's [batch, features] tensor with strides [1, batch] (a strided view).
! Outputs are described the same way and are written in place.
module physml
  use iso_c_binding
  implicit none
  private

  integer(c_int), parameter, public :: PHYSML_OK = 0, PHYSML_ERR_INVALID_ARGUMENT = 1, &
    PHYSML_ERR_FILE_NOT_FOUND = 2, PHYSML_ERR_FILE_FORMAT = 3, PHYSML_ERR_SHAPE = 4, &
    PHYSML_ERR_DTYPE = 5, PHYSML_ERR_NON_FINITE = 6, PHYSML_ERR_STATE = 7, PHYSML_ERR_RUNTIME = 8, &
    PHYSML_ERR_OUT_OF_MEMORY = 9, PHYSML_ERR_UNKNOWN = 10
  integer(c_int), parameter, public :: PHYSML_FLOAT32 = 0, PHYSML_FLOAT64 = 1
  integer(c_int), parameter, public :: PHYSML_ROW_MAJOR = 0, PHYSML_COLUMN_MAJOR = 1
  integer, parameter :: max_rank = 8

  !> physml_tensor of physml_c.h (same layout).
  type, bind(C), public :: physml_tensor
    type(c_ptr) :: data
    integer(c_int) :: dtype, layout, ndim
    type(c_ptr) :: shape, strides
  end type

  !> A Fortran array as the model sees it: data address, dtype, layout and shape (model order).
  type, public :: physml_array
    type(c_ptr) :: data = c_null_ptr
    integer(c_int) :: dtype = PHYSML_FLOAT32, layout = PHYSML_ROW_MAJOR, ndim = 0
    integer(c_int64_t) :: shape(max_rank) = 0
  end type

  interface physml_array_of
    module procedure array_r4_1, array_r4_2, array_r4_3, array_r8_1, array_r8_2, array_r8_3
  end interface
  public :: physml_array_of

  public :: physml_initialize, physml_finalize, physml_options_set, physml_options_insert_file
  public :: physml_model_load, physml_model_destroy, physml_forward, physml_model_save
  public :: physml_trainer_create, physml_trainer_destroy, physml_trainer_step, physml_trainer_save
  public :: physml_trainer_resume, physml_last_error, physml_status_name

  interface
    integer(c_int) function c_initialize(argc, argv) bind(C, name="physml_initialize")
      import :: c_int, c_ptr
      type(c_ptr), value :: argc, argv
    end function
    integer(c_int) function c_finalize() bind(C, name="physml_finalize")
      import :: c_int
    end function
    integer(c_int) function c_options_set(name, value) bind(C, name="physml_options_set")
      import :: c_int, c_char
      character(kind=c_char), dimension(*), intent(in) :: name, value
    end function
    integer(c_int) function c_options_insert_file(path) bind(C, name="physml_options_insert_file")
      import :: c_int, c_char
      character(kind=c_char), dimension(*), intent(in) :: path
    end function
    integer(c_int) function c_model_load(path, prefix, model) bind(C, name="physml_model_load")
      import :: c_int, c_char, c_ptr
      character(kind=c_char), dimension(*), intent(in) :: path
      type(c_ptr), value :: prefix
      type(c_ptr), intent(out) :: model
    end function
    integer(c_int) function c_model_destroy(model) bind(C, name="physml_model_destroy")
      import :: c_int, c_ptr
      type(c_ptr), intent(inout) :: model
    end function
    integer(c_int) function c_model_forward(model, n_in, inputs, n_out, outputs) bind(C, name="physml_model_forward")
      import :: c_int, c_ptr, physml_tensor
      type(c_ptr), value :: model
      integer(c_int), value :: n_in, n_out
      type(physml_tensor), intent(in) :: inputs(*), outputs(*)
    end function
    integer(c_int) function c_model_save(model, path) bind(C, name="physml_model_save")
      import :: c_int, c_ptr, c_char
      type(c_ptr), value :: model
      character(kind=c_char), dimension(*), intent(in) :: path
    end function
    integer(c_int) function c_trainer_create(model, prefix, trainer) bind(C, name="physml_trainer_create")
      import :: c_int, c_ptr
      type(c_ptr), value :: model, prefix
      type(c_ptr), intent(out) :: trainer
    end function
    integer(c_int) function c_trainer_destroy(trainer) bind(C, name="physml_trainer_destroy")
      import :: c_int, c_ptr
      type(c_ptr), intent(inout) :: trainer
    end function
    integer(c_int) function c_trainer_step(trainer, n_in, inputs, n_t, targets, loss) &
        bind(C, name="physml_trainer_step")
      import :: c_int, c_ptr, c_double, physml_tensor
      type(c_ptr), value :: trainer
      integer(c_int), value :: n_in, n_t
      type(physml_tensor), intent(in) :: inputs(*), targets(*)
      real(c_double), intent(out) :: loss
    end function
    integer(c_int) function c_trainer_save(trainer, path) bind(C, name="physml_trainer_save")
      import :: c_int, c_ptr, c_char
      type(c_ptr), value :: trainer
      character(kind=c_char), dimension(*), intent(in) :: path
    end function
    integer(c_int) function c_trainer_resume(trainer, path) bind(C, name="physml_trainer_resume")
      import :: c_int, c_ptr, c_char
      type(c_ptr), value :: trainer
      character(kind=c_char), dimension(*), intent(in) :: path
    end function
    type(c_ptr) function c_last_error() bind(C, name="physml_last_error")
      import :: c_ptr
    end function
    type(c_ptr) function c_status_name(status) bind(C, name="physml_status_name")
      import :: c_ptr, c_int
      integer(c_int), value :: status
    end function
    integer(c_size_t) function c_strlen(s) bind(C, name="strlen")
      import :: c_size_t, c_ptr
      type(c_ptr), value :: s
    end function
  end interface

contains

  ! ---- arrays -------------------------------------------------------------------------------

  !> Shape of a Fortran array in model order: reversed (row-major view) or as is (column-major).
  subroutine describe(a, address, dtype, fshape, reverse)
    type(physml_array), intent(out) :: a
    type(c_ptr), intent(in) :: address
    integer(c_int), intent(in) :: dtype
    integer, intent(in) :: fshape(:)
    logical, intent(in), optional :: reverse
    logical :: rev
    integer :: k, n
    rev = .true.
    if (present(reverse)) rev = reverse
    n = size(fshape)
    a%data = address
    a%dtype = dtype
    a%ndim = int(n, c_int)
    if (rev) then
      a%layout = PHYSML_ROW_MAJOR
      do k = 1, n
        a%shape(k) = int(fshape(n + 1 - k), c_int64_t)
      end do
    else
      a%layout = PHYSML_COLUMN_MAJOR
      a%shape(1:n) = int(fshape, c_int64_t)
    end if
  end subroutine

  function array_r4_1(x, reverse) result(a)
    real(c_float), intent(in), target, contiguous :: x(:)
    logical, intent(in), optional :: reverse
    type(physml_array) :: a
    call describe(a, c_loc(x), PHYSML_FLOAT32, shape(x), reverse)
  end function
  function array_r4_2(x, reverse) result(a)
    real(c_float), intent(in), target, contiguous :: x(:, :)
    logical, intent(in), optional :: reverse
    type(physml_array) :: a
    call describe(a, c_loc(x), PHYSML_FLOAT32, shape(x), reverse)
  end function
  function array_r4_3(x, reverse) result(a)
    real(c_float), intent(in), target, contiguous :: x(:, :, :)
    logical, intent(in), optional :: reverse
    type(physml_array) :: a
    call describe(a, c_loc(x), PHYSML_FLOAT32, shape(x), reverse)
  end function
  function array_r8_1(x, reverse) result(a)
    real(c_double), intent(in), target, contiguous :: x(:)
    logical, intent(in), optional :: reverse
    type(physml_array) :: a
    call describe(a, c_loc(x), PHYSML_FLOAT64, shape(x), reverse)
  end function
  function array_r8_2(x, reverse) result(a)
    real(c_double), intent(in), target, contiguous :: x(:, :)
    logical, intent(in), optional :: reverse
    type(physml_array) :: a
    call describe(a, c_loc(x), PHYSML_FLOAT64, shape(x), reverse)
  end function
  function array_r8_3(x, reverse) result(a)
    real(c_double), intent(in), target, contiguous :: x(:, :, :)
    logical, intent(in), optional :: reverse
    type(physml_array) :: a
    call describe(a, c_loc(x), PHYSML_FLOAT64, shape(x), reverse)
  end function

  !> The C descriptors of `arrays` (pointing into their shape components).
  subroutine to_tensors(arrays, tensors)
    type(physml_array), intent(in), target :: arrays(:)
    type(physml_tensor), intent(out) :: tensors(:)
    integer :: i
    do i = 1, size(arrays)
      tensors(i)%data = arrays(i)%data
      tensors(i)%dtype = arrays(i)%dtype
      tensors(i)%layout = arrays(i)%layout
      tensors(i)%ndim = arrays(i)%ndim
      tensors(i)%shape = c_loc(arrays(i)%shape)
      tensors(i)%strides = c_null_ptr
    end do
  end subroutine

  function c_string(s) result(c)
    character(len=*), intent(in) :: s
    character(kind=c_char, len=len_trim(s) + 1) :: c
    c = trim(s) // c_null_char
  end function

  ! ---- API ----------------------------------------------------------------------------------

  !> Start MPI/PETSc/LibTorch (no command line) unless the host program already started PETSc.
  integer(c_int) function physml_initialize() result(status)
    status = c_initialize(c_null_ptr, c_null_ptr)
  end function

  integer(c_int) function physml_finalize() result(status)
    status = c_finalize()
  end function

  !> Set an option ("-lin_input_shape", "-1,3") in PETSc's global database.
  integer(c_int) function physml_options_set(name, value) result(status)
    character(len=*), intent(in) :: name, value
    status = c_options_set(c_string(name), c_string(value))
  end function

  !> Insert a YAML or plain PETSc options file.
  integer(c_int) function physml_options_insert_file(path) result(status)
    character(len=*), intent(in) :: path
    status = c_options_insert_file(c_string(path))
  end function

  !> Load a PhysML Checkpoint or TorchScript file; `prefix` (optional) names its options.
  integer(c_int) function physml_model_load(path, model, prefix) result(status)
    character(len=*), intent(in) :: path
    type(c_ptr), intent(out) :: model
    character(len=*), intent(in), optional :: prefix
    character(kind=c_char, len=:), allocatable, target :: p
    if (present(prefix)) then
      p = c_string(prefix)
      status = c_model_load(c_string(path), c_loc(p), model)
    else
      status = c_model_load(c_string(path), c_null_ptr, model)
    end if
  end function

  integer(c_int) function physml_model_destroy(model) result(status)
    type(c_ptr), intent(inout) :: model
    status = c_model_destroy(model)
  end function

  !> Inference: the model's outputs are written into `outputs` (in place, no copies of inputs).
  integer(c_int) function physml_forward(model, inputs, outputs) result(status)
    type(c_ptr), intent(in) :: model
    type(physml_array), intent(in), target :: inputs(:), outputs(:)
    type(physml_tensor) :: tin(size(inputs)), tout(size(outputs))
    call to_tensors(inputs, tin)
    call to_tensors(outputs, tout)
    status = c_model_forward(model, int(size(inputs), c_int), tin, int(size(outputs), c_int), tout)
  end function

  integer(c_int) function physml_model_save(model, path) result(status)
    type(c_ptr), intent(in) :: model
    character(len=*), intent(in) :: path
    status = c_model_save(model, c_string(path))
  end function

  !> An online trainer of `model`; `prefix` (optional) names its options (-<prefix>lr, ...).
  integer(c_int) function physml_trainer_create(model, trainer, prefix) result(status)
    type(c_ptr), intent(in) :: model
    type(c_ptr), intent(out) :: trainer
    character(len=*), intent(in), optional :: prefix
    character(kind=c_char, len=:), allocatable, target :: p
    if (present(prefix)) then
      p = c_string(prefix)
      status = c_trainer_create(model, c_loc(p), trainer)
    else
      status = c_trainer_create(model, c_null_ptr, trainer)
    end if
  end function

  integer(c_int) function physml_trainer_destroy(trainer) result(status)
    type(c_ptr), intent(inout) :: trainer
    status = c_trainer_destroy(trainer)
  end function

  !> One optimizer step on (inputs, targets); `loss` receives the loss before the step.
  integer(c_int) function physml_trainer_step(trainer, inputs, targets, loss) result(status)
    type(c_ptr), intent(in) :: trainer
    type(physml_array), intent(in), target :: inputs(:), targets(:)
    real(c_double), intent(out) :: loss
    type(physml_tensor) :: tin(size(inputs)), tt(size(targets))
    call to_tensors(inputs, tin)
    call to_tensors(targets, tt)
    status = c_trainer_step(trainer, int(size(inputs), c_int), tin, int(size(targets), c_int), tt, loss)
  end function

  integer(c_int) function physml_trainer_save(trainer, path) result(status)
    type(c_ptr), intent(in) :: trainer
    character(len=*), intent(in) :: path
    status = c_trainer_save(trainer, c_string(path))
  end function

  integer(c_int) function physml_trainer_resume(trainer, path) result(status)
    type(c_ptr), intent(in) :: trainer
    character(len=*), intent(in) :: path
    status = c_trainer_resume(trainer, c_string(path))
  end function

  !> The message of the last failed call on this thread.
  function physml_last_error() result(message)
    character(len=:), allocatable :: message
    message = from_c_string(c_last_error())
  end function

  !> The name of a status code ("PHYSML_ERR_SHAPE").
  function physml_status_name(status) result(name)
    integer(c_int), intent(in) :: status
    character(len=:), allocatable :: name
    name = from_c_string(c_status_name(status))
  end function

  !> A copy of the NUL-terminated C string at p.
  function from_c_string(p) result(message)
    type(c_ptr), intent(in) :: p
    character(len=:), allocatable :: message
    character(kind=c_char), pointer :: chars(:)
    integer :: n, i
    n = int(c_strlen(p))
    allocate(character(len=n) :: message)
    if (n == 0) return
    call c_f_pointer(p, chars, [n])
    do i = 1, n
      message(i:i) = chars(i)
    end do
  end function

end module physml
